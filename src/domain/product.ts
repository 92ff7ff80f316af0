/**
 * The product's words, shared by every layer: where a user is in the product, the pillars that
 * have a liaison, and how agents and attached files are named. Plain data, no behaviour.
 */
export const SURFACES = ['HOME', 'CONTENT', 'INSIGHTS', 'JOURNEY', 'OUTCOMES'] as const;
export type Surface = (typeof SURFACES)[number];
export const PILLARS = ['CONTENT', 'INSIGHTS', 'JOURNEY', 'OUTCOMES'] as const;
export type Pillar = (typeof PILLARS)[number];

/** A guide routes and answers generally; a liaison speaks for one pillar. */
export const AGENT_KINDS = ['GUIDE', 'LIAISON'] as const;
export type AgentKind = (typeof AGENT_KINDS)[number];

/** Any registered agent's id: a lowercase letter, then up to 63 of `a-z 0-9 _ . -`. */
export type AgentId = string;

export const AGENT_ID_PATTERN = /^[a-z][a-z0-9_.-]{0,63}$/;

export interface AttachedFile {
  name: string;
  content: string;
}

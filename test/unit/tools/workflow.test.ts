import { describe, expect, it } from 'vitest';
import { extractWorkflow } from '../../../src/agents/tools/workflow.ts';

const actions = (text: string): string[] => extractWorkflow(text).map((step) => step.action);

describe('extractWorkflow', () => {
  it('gives no steps for empty or blank text', () => {
    expect(extractWorkflow('')).toEqual([]);
    expect(extractWorkflow('  \n\n ')).toEqual([]);
  });

  it('reads "1.", "1)" and "Step 1:" lines and renumbers them 1..n in order', () => {
    const steps = extractWorkflow('Intro line\n3. Open the ticket\n7) Assign an owner\nStep 9: Close the ticket.');
    expect(steps.map((step) => [step.step, step.action])).toEqual([
      [1, 'Open the ticket'],
      [2, 'Assign an owner'],
      [3, 'Close the ticket'],
    ]);
  });

  it('takes the actor from a "Role:" label', () => {
    expect(extractWorkflow('1. Manager: approve the request')[0]).toEqual({
      step: 1,
      action: 'Approve the request',
      actor: 'Manager',
      notes: null,
    });
  });

  it('takes the actor from the subject of the sentence', () => {
    const steps = extractWorkflow('1. The hiring manager approves the offer\n2. Finance pays the invoice\n3. Account Manager sends the contract');
    expect(steps.map((step) => step.actor)).toEqual(['Hiring manager', 'Finance', 'Account Manager']);
    expect(steps[0]?.action).toBe('The hiring manager approves the offer');
  });

  it('takes the actor from an "(Owner: …)" note and keeps other parentheticals as notes', () => {
    expect(extractWorkflow('1. Reconcile the accounts (Owner: Finance) (monthly)')[0]).toEqual({
      step: 1,
      action: 'Reconcile the accounts',
      actor: 'Finance',
      notes: 'monthly',
    });
  });

  it('keeps the text after " - " or " — " as notes', () => {
    const steps = extractWorkflow('1. Send the invoice - use the template\n2. Chase payment — after 30 days\n3. Log a follow-up call');
    expect(steps.map((step) => [step.action, step.notes])).toEqual([
      ['Send the invoice', 'use the template'],
      ['Chase payment', 'after 30 days'],
      ['Log a follow-up call', null],
    ]);
  });

  it('does not read an imperative, a remark label or a passive as an actor', () => {
    const steps = extractWorkflow('1. Check results\n2. Note: keep copies\n3. The form is submitted online\n4. Submit the form: use the portal');
    expect(steps.map((step) => step.actor)).toEqual([null, null, null, null]);
    expect(steps[1]?.action).toBe('Note: keep copies');
  });

  it('turns bullets under a numbered step into its notes and indented lines into its text', () => {
    const text = [
      '1. Employee submits the claim',
      '   with all receipts attached',
      '   - scan paper receipts',
      '   * keep the originals',
      '2. Manager approves (within 2 days)',
    ].join('\n');
    expect(extractWorkflow(text)).toEqual([
      {
        step: 1,
        action: 'Employee submits the claim with all receipts attached',
        actor: 'Employee',
        notes: 'scan paper receipts; keep the originals',
      },
      { step: 2, action: 'Manager approves', actor: 'Manager', notes: 'within 2 days' },
    ]);
  });

  it('does not attach bullets that follow unrelated text to the last step', () => {
    const steps = extractWorkflow('1. Open the form\n2. Fill it in\n\nFurther reading:\n- the handbook');
    expect(steps).toHaveLength(2);
    expect(steps[1]?.notes).toBeNull();
  });

  it('uses bullet lines when there are no numbered ones', () => {
    expect(actions('Checklist\n- Book the room\n* Invite the team\n• Send the agenda.')).toEqual(['Book the room', 'Invite the team', 'Send the agenda']);
  });

  it('skips list items with no words', () => {
    expect(actions('- Book the room\n- * *\n- Invite the team')).toEqual(['Book the room', 'Invite the team']);
  });

  it('splits prose into sequenced or imperative sentences when there is no list', () => {
    const text = [
      '## Onboarding',
      'Welcome to the company. First, the new hire signs the contract. Then HR creates the accounts.',
      'The office is on the second floor. Send the welcome email to the team.',
      'When the laptop arrives, IT installs the tools. Finally, the manager schedules a check-in.',
    ].join('\n');
    expect(extractWorkflow(text)).toEqual([
      { step: 1, action: 'The new hire signs the contract', actor: 'New hire', notes: null },
      { step: 2, action: 'HR creates the accounts', actor: 'HR', notes: null },
      { step: 3, action: 'Send the welcome email to the team', actor: null, notes: null },
      { step: 4, action: 'When the laptop arrives, IT installs the tools', actor: null, notes: null },
      { step: 5, action: 'The manager schedules a check-in', actor: 'Manager', notes: null },
    ]);
  });

  it('handles "after that", "next" and "once" in prose', () => {
    expect(actions('Next, collect the receipts. After that, submit them. Once approved, the money arrives. Nothing else.')).toEqual([
      'Collect the receipts',
      'Submit them',
      'Once approved, the money arrives',
    ]);
  });

  it('gives no steps for prose with no sequence', () => {
    expect(extractWorkflow('Our team values clarity. Meetings are short. First-time visitors get a tour.')).toEqual([]);
  });

  it('prefers an explicit owner over a label and gathers every note', () => {
    expect(extractWorkflow('1. Then Manager: approve (Owner: Ops) (by noon) - fast\n   - log it')[0]).toEqual({
      step: 1,
      action: 'Approve',
      actor: 'Ops',
      notes: 'by noon; fast; log it',
    });
  });
});

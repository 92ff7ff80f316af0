/**
 * How a setting's environment variable is named in code: `AUTH_JWT_SECRET` is `authJwtSecret`.
 * Shared by src/settings-options.ts's printer and by what turns an application's options back
 * into settings, so that the two never disagree.
 */
export function optionName(environmentName: string): string {
  return environmentName.toLowerCase().replace(/_([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
}

/**
 * Environment variables through which playwright.config.ts (in the runner)
 * hands the servers' ports and the auth secret to the test workers.
 */
export const PORT_VAR = "COWRITE_E2E_PORT";
export const DATA_DIR_VAR = "COWRITE_E2E_DATA_DIR";
export const AUTH_PORT_VAR = "COWRITE_E2E_AUTH_PORT";
export const AUTH_SECRET_VAR = "COWRITE_E2E_AUTH_SECRET";

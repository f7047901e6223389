// main.ts: erase the users named on the command line, wait until each is final, print one line each.
// Reads KORE_BASE_URL, KORE_CLIENT_ID and KORE_CLIENT_SECRET, like the Python examples.
import { describe, eraseAndWait, KoreApiError } from "./usage";

// Node's globals this file uses, declared so that it needs no @types/node.
declare const process: { env: Record<string, string | undefined>; argv: string[]; exitCode?: number };

function setting(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`set ${name}`);
  return value;
}

async function main(): Promise<void> {
  const config = {
    baseUrl: setting("KORE_BASE_URL"),
    clientId: setting("KORE_CLIENT_ID"),
    clientSecret: setting("KORE_CLIENT_SECRET"),
  };
  const status = await eraseAndWait(config, process.argv.slice(2));
  console.log(`erase request ${status._id}`);
  for (const line of describe(status)) console.log(line);
}

main().catch((error: unknown) => {
  console.error(error instanceof KoreApiError ? `the API refused: ${error.message}` : error);
  process.exitCode = 1;
});

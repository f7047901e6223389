// Runs the compiled usage.ts against a live mock server, for tests/clients/test_typescript.py.
//   node run-usage.mjs COMPILED_USAGE_JS
// Reads KORE_BASE_URL, KORE_CLIENT_ID, KORE_CLIENT_SECRET; waits by advancing the mock's manual
// clock (its control API) instead of sleeping; prints one JSON object.
import { pathToFileURL } from "node:url";

const usage = await import(pathToFileURL(process.argv[2]).href);
const waits = [];
const config = {
  baseUrl: process.env.KORE_BASE_URL,
  clientId: process.env.KORE_CLIENT_ID,
  clientSecret: process.env.KORE_CLIENT_SECRET,
  sleep: async (seconds) => {
    waits.push(seconds);
    const answer = await fetch(`${process.env.KORE_BASE_URL}/__mockserver/clock/advance`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ seconds }),
    });
    if (!answer.ok) throw new Error(`clock advance failed: ${answer.status}`);
  },
};

const status = await usage.eraseAndWait(config, ["jane.doe@example.com", "owner@acme.example"]);
let notFound = null;
try {
  await usage.getEraseRequestStatus(config, "eud-00000000-0000-4000-8000-000000000000");
} catch (error) {
  if (!(error instanceof usage.KoreApiError)) throw error;
  notFound = { status: error.status, message: error.message };
}
let unauthorized = null;
try {
  await usage.getEraseRequestStatus({ ...config, clientSecret: "not-the-client-secret-of-this-app" }, status._id);
} catch (error) {
  if (!(error instanceof usage.KoreApiError)) throw error;
  unauthorized = { status: error.status, message: error.message };
}
console.log(JSON.stringify({ id: status._id, lines: usage.describe(status), waits, notFound, unauthorized }));

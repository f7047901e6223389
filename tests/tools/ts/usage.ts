// usage.ts: a typed fetch wrapper for the erase users data API.
// The types come from schema.d.ts, generated from the bundled contract by openapi-typescript.
import type { components, operations } from "./schema";

export type EraseRequest = operations["createEraseRequest"]["requestBody"]["content"]["application/json"];
export type EraseRequestAccepted = operations["createEraseRequest"]["responses"][200]["content"]["application/json"];
export type EraseRequestStatus = operations["getEraseRequestStatus"]["responses"][200]["content"]["application/json"];
export type ErrorBody = components["schemas"]["Error"];

export interface KoreConfig {
  baseUrl: string; // e.g. https://platform.kore.ai, or http://127.0.0.1:8080 for the mock
  clientId: string; // the Admin Console app's Client ID (cs-...)
  clientSecret: string; // its Client Secret: server-side code only, never a browser
  maxAttempts?: number; // tries per call when the answer is 429 or 503 (default 3)
  sleep?: (seconds: number) => Promise<void>; // how to wait for Retry-After (default: setTimeout)
}

/** A non-2xx answer: the status and the `msg` (else `message`) of each error in the body. */
export class KoreApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody | undefined,
    text: string,
  ) {
    super(`HTTP ${status}: ${body ? body.errors.map((error) => error.msg ?? error.message).join("; ") : text.slice(0, 200)}`);
  }
}

const encoder = new TextEncoder();
const base64url = (bytes: Uint8Array): string =>
  btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const json64 = (value: object): string => base64url(encoder.encode(JSON.stringify(value)));
const wait = (seconds: number) => new Promise<void>((resolve) => setTimeout(resolve, seconds * 1000));

/** A new token for every call: HS256, signed with the client secret, `appId` = client id, a fresh `jti`. */
export async function makeToken(config: KoreConfig): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: "erase-job", appId: config.clientId, jti: crypto.randomUUID(), iat: now, exp: now + 300 };
  const unsigned = `${json64({ alg: "HS256", typ: "JWT" })}.${json64(claims)}`;
  const key = await crypto.subtle.importKey(
    "raw", encoder.encode(config.clientSecret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"],
  );
  const signature = await crypto.subtle.sign("HMAC", key, encoder.encode(unsigned));
  return `${unsigned}.${base64url(new Uint8Array(signature))}`;
}

async function send<T>(config: KoreConfig, method: "DELETE" | "GET", path: string, body?: EraseRequest): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const headers: Record<string, string> = { auth: await makeToken(config) }; // the raw JWT, no "Bearer "
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(config.baseUrl + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (response.ok) return JSON.parse(text) as T; // types only: nothing checks the body at run time
    const retryable = response.status === 429 || response.status === 503;
    if (retryable && attempt < (config.maxAttempts ?? 3)) {
      const retryAfter = Number(response.headers.get("retry-after"));
      await (config.sleep ?? wait)(Number.isInteger(retryAfter) && retryAfter >= 0 ? Math.min(retryAfter, 60) : 1);
      continue;
    }
    let error: ErrorBody | undefined;
    try {
      error = JSON.parse(text) as ErrorBody;
    } catch {
      error = undefined; // e.g. an HTML page from a proxy
    }
    throw new KoreApiError(response.status, error, text);
  }
}

export const createEraseRequest = (config: KoreConfig, body: EraseRequest) =>
  send<EraseRequestAccepted>(config, "DELETE", "/api/public/bot/eraseUsersData", body);

export const getEraseRequestStatus = (config: KoreConfig, reqId: string) =>
  send<EraseRequestStatus>(config, "GET", `/api/public/bot/eraseUsersData/status/${encodeURIComponent(reqId)}`);

/** One line per user. `default` is reached only by a value the contract does not list. */
export function describe(status: EraseRequestStatus): string[] {
  return status.response.map((result) => {
    switch (result.status) {
      case "IN_PROGRESS":
        return `${result.userId}: in progress`;
      case "SUCCESS":
        return `${result.userId}: erased`;
      case "FAILURE":
        return `${result.userId}: refused (${result.reason ?? "no reason given"})`;
      default: {
        const undocumented: never = result.status; // a compile error once the contract lists a new value
        return `${result.userId}: undocumented status ${JSON.stringify(undocumented)}, not final`;
      }
    }
  });
}

const isFinal = (status: EraseRequestStatus) =>
  status.response.every((result) => result.status === "SUCCESS" || result.status === "FAILURE");

/** Creates an erase request and polls its status until every user's result is final. */
export async function eraseAndWait(config: KoreConfig, userIds: string[], pollSeconds = 1): Promise<EraseRequestStatus> {
  const accepted = await createEraseRequest(config, { userIds, RemoveDataFromAllBots: true });
  for (let poll = 0; poll < 600; poll++) {
    const status = await getEraseRequestStatus(config, accepted.requestId);
    if (isFinal(status)) return status; // status._id === accepted.requestId
    await (config.sleep ?? wait)(pollSeconds);
  }
  throw new Error(`erase request ${accepted.requestId} is not final after 600 polls`);
}

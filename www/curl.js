// "Copy as curl": the exact request a run starts with, as a shell command without secrets. The
// credentials and the token stay in shell variables ($BACKSTORY_CLIENT_ID, $BACKSTORY_CLIENT_SECRET,
// $TOKEN, $USERPILOT_API_KEY, $EXPORTKIT_KEY) that the command reads: nothing secret is in the text.

const TOKEN_PATH = "/v3/auth/tokens";
const EXPORT_PATH = "/v3/beta/insights/export";

/** A word the shell passes on as it is: single quotes, with ' written as '\''. */
export function shellQuote(s) {
  return `'${String(s).replaceAll("'", `'\\''`)}'`;
}

/** The base URL without credentials, query or fragment, and without a trailing slash. */
function cleanBase(url) {
  const u = new URL(url);
  u.username = "";
  u.password = "";
  u.search = "";
  u.hash = "";
  return u.href.replace(/\/+$/, "");
}

// A script outside the page reaches the edge worker with its access key (a page of its own origin needs none).
const KEY_LINES = ["# EXPORTKIT_KEY: the worker's access key (ask whoever runs it)."];
const KEY_HEADER = `  -H "x-exportkit-key: $EXPORTKIT_KEY" \\`;

/**
 * The shell commands for one request to a vendor's API, secrets read from shell variables.
 * `api`: "backstory" (a token first, then `Authorization: Bearer $TOKEN`) or "userpilot"
 * (`Authorization: Token $USERPILOT_API_KEY`). With `proxyUrl` (the edge worker adds the
 * credentials) the request goes there with the worker's access key instead. `body`: the JSON
 * sent (object or text); `out`: the file to write (else the answer is printed); `notes`: comment
 * lines put first.
 */
export function curlRequest({ api = "backstory", baseUrl = "", proxyUrl = "", method = "POST", path, body = null, accept = null, out = null, notes = [] }) {
  const lines = notes.map((n) => `# ${n}`);
  const text = body === null ? null : typeof body === "string" ? body : JSON.stringify(body);
  const call = (base, auth) => {
    const parts = [`curl -sS --fail-with-body -X ${method} ${shellQuote(base + path)} \\`, ...auth];
    if (text !== null) parts.push(`  -H 'Content-Type: application/json' \\`);
    if (accept) parts.push(`  -H ${shellQuote(`Accept: ${accept}`)} \\`);
    if (text !== null) parts.push(`  --data-raw ${shellQuote(text)} \\`);
    if (out) parts.push(`  -o ${shellQuote(out)}`);
    else parts[parts.length - 1] = parts[parts.length - 1].slice(0, -2);
    return parts;
  };
  if (proxyUrl) {
    lines.push("# Through the exportkit edge worker, which adds the credentials itself.", ...KEY_LINES, ...call(cleanBase(proxyUrl), [KEY_HEADER]));
    return `${lines.join("\n")}\n`;
  }
  const base = cleanBase(baseUrl);
  if (api === "userpilot") {
    lines.push("# First set USERPILOT_API_KEY in your shell.", ...call(base, [`  -H "Authorization: Token $USERPILOT_API_KEY" \\`]));
    return `${lines.join("\n")}\n`;
  }
  lines.push(
    "# First set BACKSTORY_CLIENT_ID and BACKSTORY_CLIENT_SECRET in your shell. Needs curl and jq.",
    `TOKEN=$(curl -sS --fail-with-body -X POST ${shellQuote(base + TOKEN_PATH)} \\`,
    `  -H 'Content-Type: application/x-www-form-urlencoded' \\`,
    `  --data-urlencode 'grant_type=client_credentials' \\`,
    `  --data-urlencode "client_id=$BACKSTORY_CLIENT_ID" \\`,
    `  --data-urlencode "client_secret=$BACKSTORY_CLIENT_SECRET" \\`,
    `  | jq -r .access_token) &&`,
    ...call(base, [`  -H "Authorization: Bearer $TOKEN" \\`]),
  );
  return `${lines.join("\n")}\n`;
}

/**
 * The shell commands for `query` (the JSON body, as the client sends it). With `proxyUrl` (the
 * edge worker holds the credentials) there is no token step. `out` is the file to write.
 */
export function curlCommand({ baseUrl, proxyUrl = "", query, out = "export.csv" }) {
  return curlRequest({
    api: "backstory",
    baseUrl,
    proxyUrl,
    path: EXPORT_PATH,
    body: query,
    accept: "text/csv",
    out,
    notes: ["Backstory Query API export: the request exportkit sends (one of the 10 calls a day)."],
  });
}

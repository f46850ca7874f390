// "Copy as curl": the exact requests a Query API run makes, as a shell command without secrets.
// The credentials and the token stay in shell variables ($BACKSTORY_CLIENT_ID,
// $BACKSTORY_CLIENT_SECRET, $TOKEN) that the command reads: nothing secret is ever in the text.

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

/**
 * The shell commands for `query` (the JSON body, as the client sends it). With `proxyUrl` (the
 * edge worker holds the credentials) there is no token step. `out` is the file to write.
 */
export function curlCommand({ baseUrl, proxyUrl = "", query, out = "export.csv" }) {
  const body = typeof query === "string" ? query : JSON.stringify(query);
  const lines = ["# Backstory Query API export: the request exportkit sends (one of the 10 calls a day)."];
  const exportCall = (base, auth) => [
    `curl -sS --fail-with-body -X POST ${shellQuote(base + EXPORT_PATH)} \\`,
    ...(auth ? [`  -H "Authorization: Bearer $TOKEN" \\`] : []),
    `  -H 'Content-Type: application/json' \\`,
    `  -H 'Accept: text/csv' \\`,
    `  --data-raw ${shellQuote(body)} \\`,
    `  -o ${shellQuote(out)}`,
  ];
  if (proxyUrl) {
    lines.push("# Through the exportkit edge worker, which adds the credentials itself.", ...exportCall(cleanBase(proxyUrl), false));
    return `${lines.join("\n")}\n`;
  }
  const base = cleanBase(baseUrl);
  lines.push(
    "# First set BACKSTORY_CLIENT_ID and BACKSTORY_CLIENT_SECRET in your shell. Needs curl and jq.",
    `TOKEN=$(curl -sS --fail-with-body -X POST ${shellQuote(base + TOKEN_PATH)} \\`,
    `  -H 'Content-Type: application/x-www-form-urlencoded' \\`,
    `  --data-urlencode 'grant_type=client_credentials' \\`,
    `  --data-urlencode "client_id=$BACKSTORY_CLIENT_ID" \\`,
    `  --data-urlencode "client_secret=$BACKSTORY_CLIENT_SECRET" \\`,
    `  | jq -r .access_token) &&`,
    ...exportCall(base, true),
  );
  return `${lines.join("\n")}\n`;
}

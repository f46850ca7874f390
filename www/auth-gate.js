// Behind the edge worker, a session can end while the page is open (it expired, or the access key
// was rotated). The worker marks such a 401 with `X-Exportkit-Sign-In`; any of this page's calls
// that meets one sends the person to the sign-in page, which brings them back here. Without the
// worker (the demo, a static host) no answer carries the header and nothing changes.

const SIGN_IN_HEADER = "x-exportkit-sign-in";
const original = globalThis.fetch.bind(globalThis);

function signInUrl(res) {
  if (res.status !== 401) return null;
  const where = res.headers.get(SIGN_IN_HEADER);
  // Only a path of this site: an answer cannot send the page anywhere else.
  if (!where || !/^\/[A-Za-z0-9_-]+$/.test(where)) return null;
  try {
    if (new URL(res.url).origin !== location.origin) return null;
  } catch {
    return null;
  }
  const next = `${location.pathname}${location.search}`;
  return `${where}?next=${encodeURIComponent(next)}`;
}

globalThis.fetch = async function fetchWithSignIn(...args) {
  const res = await original(...args);
  const to = signInUrl(res);
  if (to) location.assign(to);
  return res;
};

// AlphaPoint's own JavaScript client (npm `alphapoint-apex-api`) through `twofa-proxy`'s OMS
// WebSocket relay, with no credentials of its own: a private call first, then the login a
// login-first client sends (answered by the proxy from its session, whatever the password),
// Ping, LogOut (answered by the proxy: the shared session stays), a private call again, a clean
// close.
//
// Usage: node oms_node_proxy.mjs <ws-url-through-the-proxy> <the profile's username>, with
// NODE_PATH pointing at a node_modules that holds alphapoint-apex-api. Exits non-zero on the
// first failed step.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { APEX } = require("alphapoint-apex-api");

const [url, username] = process.argv.slice(2);
if (!url || !username) {
  console.error("usage: node oms_node_proxy.mjs <ws-url> <username>");
  process.exit(2);
}

function check(condition, step, detail) {
  if (!condition) {
    console.error(`FAIL ${step}: ${JSON.stringify(detail)}`);
    process.exit(1);
  }
  console.log(`ok   ${step}`);
}

async function main() {
  let onclose;
  const closed = new Promise((resolve) => (onclose = resolve));
  const apex = new APEX(url, { onopen: () => {}, onclose: (event) => onclose(event) });
  const call = async (name, params) => {
    const frame = await Promise.race([
      apex.RPCPromise(name, params),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`${name}: no reply in 10 s`)), 10_000)),
    ]);
    return JSON.parse(frame.o);
  };

  const first = await call("GetUserInfo", {});
  check(first.UserName === username, "GetUserInfo with no login of the client's own", { UserName: first.UserName });

  const login = await call("WebAuthenticateUser", { UserName: "nobody", Password: "not-the-password" });
  check(login.Authenticated === true && login.Requires2FA === false && typeof login.SessionToken === "string",
    "WebAuthenticateUser answered by the proxy", { Authenticated: login.Authenticated, Requires2FA: login.Requires2FA });

  const pong = await call("Ping", {});
  check(pong.msg === "PONG", "Ping answers PONG", pong);

  const out = await call("LogOut", {});
  check(out.result === true, "LogOut answered by the proxy", out);

  const again = await call("GetUserInfo", {});
  check(again.UserName === username && "AccountId" in again, "GetUserInfo after the client's LogOut",
    { UserName: again.UserName });

  apex.closeConnection();
  const event = await closed;
  check(event.wasClean === true, "a client close ends cleanly", { code: event.code, wasClean: event.wasClean });
  console.log("alphapoint-apex-api through twofa-proxy: all steps passed");
  process.exit(0);
}

main().catch((e) => {
  console.error(`FAIL ${e && e.message ? e.message : JSON.stringify(e)}`);
  process.exit(1);
});

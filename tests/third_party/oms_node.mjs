// AlphaPoint's own JavaScript client (npm `alphapoint-apex-api`) against the sandbox's OMS
// WebSocket gateway, as a new user would use it: password login, enrolment from `twoFAToken`,
// Authenticate2FA, Ping, a clean close, SessionToken resume on a new socket, LogOut.
//
// Usage: node oms_node.mjs <ws-url> <username> <password>, with NODE_PATH pointing at a
// node_modules that holds alphapoint-apex-api. Exits non-zero on the first failed step.
import { createHmac } from "node:crypto";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { APEX } = require("alphapoint-apex-api");

const [url, username, password] = process.argv.slice(2);
if (!url || !username || !password) {
  console.error("usage: node oms_node.mjs <ws-url> <username> <password>");
  process.exit(2);
}

function check(condition, step, detail) {
  if (!condition) {
    console.error(`FAIL ${step}: ${JSON.stringify(detail)}`);
    process.exit(1);
  }
  console.log(`ok   ${step}`);
}

function base32(text) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of text.replace(/=+$/, "").toUpperCase()) {
    const v = alphabet.indexOf(c);
    if (v < 0) throw new Error("not base32");
    bits += v.toString(2).padStart(5, "0");
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

// RFC 6238 with the parameters of an otpauth URI (SHA-1, 6 digits, `period` seconds).
function totp(uri) {
  const params = new URL(uri).searchParams;
  const period = Number(params.get("period") ?? 30);
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / period)));
  const mac = createHmac("sha1", base32(params.get("secret"))).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(value).padStart(6, "0");
}

// One connection; `closed` resolves with the close event the client's socket reports.
function connect() {
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
  return { apex, call, closed };
}

async function main() {
  const first = connect();
  const login = await first.call("WebAuthenticateUser", { UserName: username, Password: password });
  check(login.Authenticated === true && login.Requires2FA === true, "WebAuthenticateUser asks for 2FA", login);
  check(String(login.twoFAToken).startsWith("otpauth://totp/"), "twoFAToken carries the enrolment URI", login);

  const verified = await first.call("Authenticate2FA", { Code: totp(login.twoFAToken) });
  check(verified.Authenticated === true && typeof verified.SessionToken === "string" && verified.SessionToken.length > 0,
    "Authenticate2FA returns a SessionToken", { Authenticated: verified.Authenticated });
  const token = verified.SessionToken;

  const pong = await first.call("Ping", {});
  check(pong.msg === "PONG", "Ping answers PONG", pong);

  first.apex.closeConnection();
  const event = await first.closed;
  check(event.wasClean === true, "a client close ends cleanly", { code: event.code, wasClean: event.wasClean });

  const second = connect();
  const resumed = await second.call("WebAuthenticateUser", { SessionToken: token });
  check(resumed.Authenticated === true && resumed.SessionToken === token, "SessionToken resumes on a new socket",
    { Authenticated: resumed.Authenticated });
  const info = await second.call("GetUserInfo", {});
  check(info.UserName === username && "Email" in info && "AccountId" in info, "GetUserInfo on the resumed session",
    { UserName: info.UserName });
  const out = await second.call("LogOut", {});
  check(out.result === true || out.result === "true", "LogOut", out);
  second.apex.closeConnection();
  await second.closed;

  const third = connect();
  const dead = await third.call("WebAuthenticateUser", { SessionToken: token });
  check(dead.Authenticated === false, "the token is dead after LogOut", dead);
  const again = await third.call("WebAuthenticateUser", { UserName: username, Password: password });
  check(again.Requires2FA === true && again.twoFAToken === "", "no seed once enrolled", again);
  third.apex.closeConnection();
  await third.closed;
  console.log("alphapoint-apex-api: all steps passed");
  process.exit(0);
}

main().catch((e) => {
  console.error(`FAIL ${e && e.message ? e.message : JSON.stringify(e)}`);
  process.exit(1);
});

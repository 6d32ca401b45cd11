//! An independent oracle for the API-key signature: HMAC-SHA256 by Python's standard library.
//! Shared by `crates/twofa-oms/tests/contract.rs` and the facade's `tests/hostile/oms_api_key.rs`.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

/// Lower-case hex HMAC-SHA256 of `message` under `secret`, computed by Python's standard library.
pub fn python_hmac(secret: &str, message: &str) -> String {
    let script = "import hmac,hashlib,sys; \
                  print(hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), hashlib.sha256).hexdigest())";
    let out = std::process::Command::new("python3").args(["-c", script, secret, message]).output().unwrap();
    assert!(out.status.success(), "python3 computes the vector");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

//! Link flags of the `twofa` binary.

fn main() {
    // `twofa token` is a process per call, and its start is most of its cost: a position-independent
    // binary has ~18,000 relative relocations for the dynamic loader to apply at every start.
    // Packed relative relocations (DT_RELR; glibc 2.36, binutils 2.38, lld) shrink that table
    // from 24 bytes a relocation to a few bits and the loader's work with it; the binary stays PIE.
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

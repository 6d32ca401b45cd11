//! Flows against the sandbox's accounts, shared by the session-manager tests.
#![allow(dead_code)] // each test binary uses its own subset

use std::sync::Arc;

use twofa::{ManualClock, TwoFactorFlow, etna::EtnaFlow, onlineordering::OnlineOrderingFlow};
use twofa_sandbox::{Sandbox, etna, onlineordering};

/// An ETNA flow for `user` with `password`.
pub fn etna_flow(sandbox: &Sandbox, user: &str, password: &str) -> Arc<dyn TwoFactorFlow> {
    Arc::new(
        EtnaFlow::builder()
            .base_url(sandbox.etna_base_url())
            .app_key(etna::APP_KEY)
            .username(user)
            .password(password)
            .build()
            .unwrap(),
    )
}

/// An Online Ordering flow for `email`, on `clock`.
pub fn online_flow(sandbox: &Sandbox, email: &str, clock: &ManualClock) -> OnlineOrderingFlow {
    OnlineOrderingFlow::builder()
        .base_url(sandbox.base_url())
        .company_code(onlineordering::COMPANY_CODE)
        .integrator(onlineordering::API_USER, onlineordering::API_PASSWORD)
        .email(email)
        .password(onlineordering::PASSWORD)
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap()
}

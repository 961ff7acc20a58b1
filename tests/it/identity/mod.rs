//! Identity: who a caller is and what it may spend. API keys (`keys`) and their limits
//! (`limits`), OAuth access tokens from an identity provider (`oauth`), and the accounts
//! the gateway holds upstream for a caller or for everyone (`upstream_auth`), and
//! DPoP-bound access tokens presented to the gateway (`dpop`).

mod dpop;
mod keys;
mod limits;
mod oauth;
mod upstream_auth;

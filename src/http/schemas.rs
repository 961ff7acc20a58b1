//! Schemas of the OpenAPI document ([`super::openapi`]) kept apart: the registry routes'
//! bodies and answers, the upstream `auth` types of agent identity, and an audit entry's
//! identity and parent.

use serde_json::{Value, json};

/// An audit entry's identity and the call it was made within (a code-mode run's inner
/// calls name the run).
pub(super) fn audit_identity(s: &mut Value) {
    let uuid = |description: &str| json!({"type": ["string", "null"], "format": "uuid", "description": description});
    let p = &mut s["AuditEntry"]["properties"];
    p["call_id"] = uuid("the row's identity (null on rows written before rows had one)");
    p["parent"] = uuid(
        "the call_id of the run_code call whose script made this call; null for any other call",
    );
}

/// The registry routes' bodies and answers (`docs/guides/registry.md`).
pub(super) fn registry_schemas(s: &mut Value) {
    let map = json!({"type": "object", "additionalProperties": {"type": "string"}});
    let inputs = json!({"env": map, "arguments": map, "headers": map,
        "force": {"type": "boolean", "description": "install a deleted or deprecated entry"},
        "allow_private": {"type": "boolean", "description": "allow a remote at a loopback or private address"}});
    let mut install = json!({"type": "object", "required": ["name"], "additionalProperties": false,
        "properties": {"name": {"type": "string"}, "version": {"type": "string"},
            "as": {"type": "string", "description": "the server's name"},
            "namespace": {"type": "string"}, "registry": {"type": "string"}}});
    let mut upgrade = json!({"type": "object", "required": ["server"], "additionalProperties": false,
        "properties": {"server": {"type": "string"}, "version": {"type": "string"}}});
    for body in [&mut install, &mut upgrade] {
        if let (Some(p), Some(extra)) = (body["properties"].as_object_mut(), inputs.as_object()) {
            p.extend(extra.clone());
        }
    }
    s["Server"]["properties"]["source"] = json!({"type": "object",
        "description": "the registry entry it was installed from (absent: registered by hand)",
        "properties": {"registry": {"type": "string"}, "name": {"type": "string"},
            "version": {"type": "string"}, "upgrade_held": {"type": "boolean"},
            "allow_private": {"type": "boolean",
                "description": "the install was allowed a loopback or private address; its upgrades keep that"}}});
    s["RegistryInstall"] = install;
    s["RegistryUpgrade"] = upgrade;
    s["RegistryPage"] = json!({"type": "object", "required": ["servers", "next_cursor"], "properties": {
        "servers": {"type": "array", "items": {"type": "object",
            "required": ["name", "description", "version", "status", "remotes", "packages"], "properties": {
            "name": {"type": "string"}, "description": {"type": "string"}, "version": {"type": "string"},
            "status": {"enum": ["active", "deprecated", "deleted"]},
            "remotes": {"type": "array"}, "packages": {"type": "array"}}}},
        "next_cursor": {"type": ["string", "null"]}}});
    s["RegistryOutdated"] = json!({"type": "object", "required": ["servers"], "properties": {
        "servers": {"type": "array", "items": {"type": "object", "properties": {
            "server": {"type": "string"}, "name": {"type": "string"}, "registry": {"type": "string"},
            "installed": {"type": "string"}, "latest": {"type": ["string", "null"]},
            "status": {"type": ["string", "null"]}, "error": {"type": "string"}}}}}});
}

/// `components` with the identity members in a server's `auth`.
pub(super) fn with_identity_auth(mut c: Value) -> Value {
    if let Some(p) = c["schemas"]["ServerAuth"]["properties"].as_object_mut() {
        p.extend(identity_auth_properties());
    }
    c
}

/// The members of a server's `auth` for workload identity and enterprise-managed
/// authorization (docs/guides/identity.md).
fn identity_auth_properties() -> serde_json::Map<String, Value> {
    let text = |d: &str| json!({"type": ["string", "null"], "description": d});
    [
        (
            "assertion_file",
            "workload_identity: an absolute path to the workload's JWT, read at each grant",
        ),
        (
            "assertion_env",
            "workload_identity: or the gateway's environment variable holding it",
        ),
        (
            "idp_token_endpoint",
            "enterprise: the identity provider's token endpoint",
        ),
        (
            "idp_client_id",
            "enterprise: the gateway's client at the identity provider",
        ),
        (
            "idp_client_secret",
            "enterprise: masked in answers; stored encrypted",
        ),
        (
            "id_token_file",
            "enterprise: an absolute path to the ID token exchanged, read at each grant",
        ),
        (
            "id_token_env",
            "enterprise: or the gateway's environment variable holding it",
        ),
    ]
    .into_iter()
    .map(|(k, d)| (k.to_string(), text(d)))
    .collect()
}

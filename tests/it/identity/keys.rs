//! Key verification and storage against a real database.

use crate::support::{TestDb, cluster};
use metamcp::config::KeyBytes;
use metamcp::crypto::Cipher;
use metamcp::store::db::make_pool;
use metamcp::store::keys::{AuthFailure, KeyStore, NewKey, Scope, parse_key_text};
use metamcp::store::migrate;

async fn store(db: &TestDb) -> KeyStore {
    let mut client = db.client().await;
    migrate::run(&mut client).await.expect("migrate");
    // The namespace the keys name exists (a key of a missing namespace is refused).
    client
        .batch_execute("INSERT INTO namespaces (name) VALUES ('team-a')")
        .await
        .expect("the namespace");
    let pool = make_pool(cluster().pg_config(&db.name), 4);
    KeyStore::new(pool, Cipher::new(&KeyBytes([7; 32])))
}

fn new_key(name: &str) -> NewKey {
    NewKey {
        name: name.into(),
        description: None,
        scope: Scope::Client,
        namespaces: vec!["team-a".into()],
        expires_in_days: None,
        limits: Default::default(),
    }
}

#[tokio::test]
async fn good_key_verifies_with_its_scope_and_namespaces() {
    let db = TestDb::new().await;
    let keys = store(&db).await;
    let issued = keys.create(new_key("good")).await.unwrap();
    let v = keys.verify(&issued.api_key).await.expect("verifies");
    assert_eq!(v.id, issued.id);
    assert_eq!(v.scope, Scope::Client);
    assert_eq!(v.namespaces, vec!["team-a".to_string()]);
    assert_eq!(v.name, "good");
    assert!(v.expires_at.is_none());
    let shown = keys.show(issued.id.as_str()).await.unwrap();
    assert_eq!(
        (shown.calls, shown.last_used_at),
        (0, None),
        "use is the gateway's to record"
    );
}

#[tokio::test]
async fn every_kind_of_bad_key_is_refused_for_its_own_reason() {
    let db = TestDb::new().await;
    let keys = store(&db).await;
    let issued = keys.create(new_key("k")).await.unwrap();
    let (id, secret) = parse_key_text(&issued.api_key).unwrap();

    let reason = |r: Result<_, AuthFailure>| r.expect_err("refused").reason();
    assert_eq!(reason(keys.verify("Bearer nonsense").await), "malformed");
    let wrong_secret = format!("mcp_{id}_{}", "x".repeat(secret.len()));
    assert_eq!(reason(keys.verify(&wrong_secret).await), "bad_secret");
    let unknown = format!("mcp_{}_{secret}", "0".repeat(16));
    assert_eq!(reason(keys.verify(&unknown).await), "unknown_key");

    keys.set_active(id.as_str(), false).await.unwrap();
    assert_eq!(reason(keys.verify(&issued.api_key).await), "inactive");
    // Without the secret an attacker cannot even learn that the key is inactive.
    assert_eq!(reason(keys.verify(&wrong_secret).await), "bad_secret");
    keys.set_active(id.as_str(), true).await.unwrap();
    assert!(keys.verify(&issued.api_key).await.is_ok());

    db.client()
        .await
        .execute(
            "UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1",
            &[&id.as_str()],
        )
        .await
        .unwrap();
    assert_eq!(reason(keys.verify(&issued.api_key).await), "expired");

    // All of them look the same from outside.
    for r in [
        keys.verify(&wrong_secret).await,
        keys.verify(&unknown).await,
        keys.verify(&issued.api_key).await,
    ] {
        assert_eq!(r.unwrap_err().to_string(), "invalid API key");
    }
}

#[tokio::test]
async fn rotation_invalidates_the_old_secret_and_deletion_the_key() {
    let db = TestDb::new().await;
    let keys = store(&db).await;
    let issued = keys.create(new_key("r")).await.unwrap();
    let rotated = keys.rotate(issued.id.as_str()).await.unwrap();
    assert_eq!(rotated.id, issued.id);
    assert_eq!(
        keys.verify(&issued.api_key).await.unwrap_err().reason(),
        "bad_secret"
    );
    assert!(keys.verify(&rotated.api_key).await.is_ok());
    keys.delete(issued.id.as_str()).await.unwrap();
    assert_eq!(
        keys.verify(&rotated.api_key).await.unwrap_err().reason(),
        "unknown_key"
    );
}

#[tokio::test]
async fn expiring_keys_carry_their_expiry() {
    let db = TestDb::new().await;
    let keys = store(&db).await;
    let issued = keys
        .create(NewKey {
            expires_in_days: Some(2),
            limits: Default::default(),
            ..new_key("e")
        })
        .await
        .unwrap();
    let v = keys.verify(&issued.api_key).await.unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let exp = v.expires_at.expect("expiry");
    assert!((exp - now - 2.0 * 86400.0).abs() < 60.0, "{exp} vs {now}");
}

#[tokio::test]
async fn the_database_never_holds_a_plaintext_key() {
    let db = TestDb::new().await;
    let keys = store(&db).await;
    let mut issued = Vec::new();
    for i in 0..3 {
        issued.push(keys.create(new_key(&format!("k{i}"))).await.unwrap());
    }
    let rotated = keys.rotate(issued[0].id.as_str()).await.unwrap();
    issued.push(rotated);
    let client = db.client().await;
    // Every row of every table, as text (bytea as hex, and as escaped bytes).
    let tables: Vec<String> = client
        .query(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut dump = String::new();
    for t in &tables {
        for row in client
            .query(&format!("SELECT t::text FROM \"{t}\" t"), &[])
            .await
            .unwrap()
        {
            dump.push_str(&row.get::<_, String>(0));
        }
        for row in client
            .query(
                &format!("SELECT encode(convert_to(t::text, 'UTF8'), 'escape') FROM \"{t}\" t"),
                &[],
            )
            .await
            .unwrap()
        {
            dump.push_str(&row.get::<_, String>(0));
        }
    }
    let raw: Vec<Vec<u8>> = client
        .query("SELECT key_sealed FROM api_keys", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(raw.len(), 3);
    for k in &issued {
        let (_, secret) = parse_key_text(&k.api_key).unwrap();
        assert!(!dump.contains(secret), "secret found in the database");
        assert!(!dump.contains(&k.api_key));
        for sealed in &raw {
            assert!(
                !sealed.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "secret found in a sealed column"
            );
        }
    }
    let hashes: Vec<String> = client
        .query("SELECT secret_hash FROM api_keys", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        hashes
            .iter()
            .all(|h| h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"))
    );
    // The sealed copy opens with the right key to exactly the current key text…
    assert_eq!(keys.unseal(&issued[0].id).await.unwrap(), issued[3].api_key);
    // …and not with another.
    let other = KeyStore::new(
        make_pool(cluster().pg_config(&db.name), 1),
        Cipher::new(&KeyBytes([8; 32])),
    );
    assert!(other.unseal(&issued[1].id).await.is_err());
}

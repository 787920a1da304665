//! The harness signs webhooks itself, from SPEC §5, so ingest's verifier is checked against an
//! independent signer; this pins that signer to the SPEC's test vector (computed with the
//! official `svix` library).

use scimsync_tests::webhooks::svix_signature;

#[test]
fn the_harness_signer_reproduces_the_spec_test_vector_exactly() {
    let body = r#"{"action":"DELETE","event_id":"webhook-event-test-00000000-0000-0000-0000-000000000001","id":"member-test-00000000-0000-0000-0000-000000000002","object_type":"member","project_id":"project-test-00000000-0000-0000-0000-000000000003","source":"SCIM","timestamp":"2025-01-01T00:00:00.000000Z","vertical":"B2B"}"#;
    let signature = svix_signature(
        "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX",
        "msg_2vTestStytchScimMember0001",
        1_735_689_600,
        body.as_bytes(),
    );
    assert_eq!(signature, "v1,JAGYq25WtJWgCZIKpQbP9hkMFB0Ytg31wBeBao0yu1g=");
}

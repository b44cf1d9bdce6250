//! HMAC key rotation: each hash is stored with its key id; after a redeploy
//! with a new current key, codes made under the old key still verify, until
//! the old key is retired.

use integration_tests::{Stack, unique_phone};

const OLD_KEY: &str = "old-key-0123456789abcdef0123456789ab";
const NEW_KEY: &str = "new-key-0123456789abcdef0123456789ab";

#[tokio::test]
async fn codes_in_flight_survive_a_key_rotation_until_the_key_is_retired() {
    let stack =
        Stack::with_env(&[("CODE_HMAC_KEY", OLD_KEY), ("CODE_HMAC_KEY_ID", "2026-01")]).await;
    let (first, second) = (unique_phone(), unique_phone());
    stack.send(&first).await;
    stack.send(&second).await;
    let (first_code, second_code) = (
        stack.code_sent_to(&first).await,
        stack.code_sent_to(&second).await,
    );
    assert_eq!(
        stack.stored_item(&first).await.unwrap()["key_id"]
            .as_s()
            .unwrap(),
        "2026-01"
    );

    let previous = format!("2026-01:{OLD_KEY}");
    let stack = stack
        .redeployed_with(&[
            ("CODE_HMAC_KEY", NEW_KEY),
            ("CODE_HMAC_KEY_ID", "2026-06"),
            ("CODE_HMAC_PREVIOUS_KEYS", &previous),
        ])
        .await;
    assert_eq!(
        stack.verify(&first, &first_code).await.status,
        200,
        "the old key still verifies"
    );
    let third = unique_phone();
    stack.send(&third).await;
    assert_eq!(
        stack.stored_item(&third).await.unwrap()["key_id"]
            .as_s()
            .unwrap(),
        "2026-06"
    );
    let third_code = stack.code_sent_to(&third).await;
    assert_eq!(
        stack.verify(&third, &third_code).await.status,
        200,
        "the new key signs"
    );

    let stack = stack
        .redeployed_with(&[("CODE_HMAC_PREVIOUS_KEYS", "")])
        .await;
    assert_eq!(
        stack.verify(&second, &second_code).await.reason(),
        "incorrect_code",
        "a retired key verifies nothing"
    );
}

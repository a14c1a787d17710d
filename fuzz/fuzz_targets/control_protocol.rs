//! Any bytes as a control-socket request line, and any text as a command's result
//! or error: decoding must never panic, and what is encoded decodes to itself.
#![no_main]
use ferroban_cli::protocol::{decode_reply, decode_request, encode_reply, encode_request, Refusal};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(words) = decode_request(&text) {
        assert_eq!(decode_request(&encode_request(&words)).as_ref(), Ok(&words));
    }
    let _ = decode_reply(&text);
    let error: Result<serde_json::Value, Refusal> = Err(Refusal::new(text.to_string()));
    assert_eq!(
        decode_reply(&encode_reply(&error)),
        Err(Some(Refusal::new(text.to_string())))
    );
    let words: Vec<String> = text.split(' ').map(str::to_string).collect();
    let result: Result<serde_json::Value, Refusal> = Ok(serde_json::Value::from(words.clone()));
    assert_eq!(
        decode_reply(&encode_reply(&result)),
        Ok(serde_json::Value::from(words))
    );
});

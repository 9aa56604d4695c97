use sentinel_transport::wire::anthropic::{MessagesRequest, MessagesResponse, StreamEvent};
use sentinel_transport::wire::openai::{
    ChatCompletionChunk, ChatCompletionRequest, ChatCompletionResponse, CompletionRequest,
    CompletionResponse, EmbeddingRequest, EmbeddingResponse,
};
use sentinel_transport::wire::Content;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

fn round_trip<T: DeserializeOwned + Serialize>(json: &str) -> T {
    let original: Value = serde_json::from_str(json).expect("json");
    let typed: T = serde_json::from_str(json).expect("typed");
    let back = serde_json::to_value(&typed).expect("serialize");
    assert_eq!(back, original, "round trip changed the document");
    typed
}

#[test]
fn openai_documents_round_trip_with_unknown_fields() {
    let req: ChatCompletionRequest = round_trip(
        r#"{"model":"gpt-4o","temperature":0,"seed":7,"future_field":{"x":[1,2]},
            "messages":[
              {"role":"system","content":"be brief"},
              {"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"data:..."}}],"name":"jo"},
              {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},
              {"role":"tool","tool_call_id":"c1","content":"42"}],
            "tools":[{"type":"function","function":{"name":"f","parameters":{}}}],
            "stream":true,"stream_options":{"include_usage":true}}"#,
    );
    assert!(matches!(req.messages[2].content, Content::Null(())));
    assert!(
        matches!(&req.messages[1].content, Content::Parts(p) if p[0].text.as_deref() == Some("hi"))
    );
    let resp: ChatCompletionResponse = round_trip(
        r#"{"id":"x","object":"chat.completion","created":1,"model":"gpt-4o","system_fingerprint":"fp",
            "choices":[{"index":0,"finish_reason":"stop","logprobs":null,"message":{"role":"assistant","content":"hello","refusal":null}}],
            "usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7,"prompt_tokens_details":{"cached_tokens":0}}}"#,
    );
    assert_eq!(resp.usage.expect("usage").completion_tokens, Some(2));
    let chunk: ChatCompletionChunk = round_trip(
        r#"{"id":"x","object":"chat.completion.chunk","created":1,"model":"m",
            "choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"q\":"}}]},"finish_reason":null}]}"#,
    );
    assert_eq!(
        chunk.choices[0].delta.tool_calls.as_ref().expect("calls")[0]
            .function
            .as_ref()
            .expect("fn")
            .arguments
            .as_deref(),
        Some("{\"q\":")
    );
    round_trip::<ChatCompletionChunk>(
        r#"{"id":"x","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#,
    );
    round_trip::<CompletionRequest>(r#"{"model":"m","prompt":["a","b"],"max_tokens":5}"#);
    round_trip::<CompletionResponse>(
        r#"{"id":"c","choices":[{"text":"hi","index":0,"finish_reason":"length"}]}"#,
    );
    round_trip::<EmbeddingRequest>(r#"{"model":"e","input":"text","dimensions":256}"#);
    round_trip::<EmbeddingResponse>(
        r#"{"object":"list","model":"e","data":[{"object":"embedding","index":0,"embedding":[0.1,-0.2]}],"usage":{"prompt_tokens":1,"total_tokens":1}}"#,
    );
}

#[test]
fn anthropic_documents_round_trip_with_unknown_fields() {
    let req: MessagesRequest = round_trip(
        r#"{"model":"claude","max_tokens":100,"system":[{"type":"text","text":"sys","cache_control":{"type":"ephemeral"}}],
            "messages":[{"role":"user","content":"hi"},
                        {"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f","input":{"q":"x"}}]},
                        {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"42"}]}],
            "tools":[{"name":"f","input_schema":{}}],"metadata":{"user_id":"u"}}"#,
    );
    assert!(matches!(req.system, Content::Parts(_)));
    round_trip::<MessagesResponse>(
        r#"{"id":"m","type":"message","role":"assistant","model":"claude","content":[{"type":"text","text":"hello"}],"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":1}}"#,
    );
    for event in [
        r#"{"type":"message_start","message":{"id":"m","type":"message","role":"assistant","content":[],"model":"claude","usage":{"input_tokens":3,"output_tokens":0}}}"#,
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}"#,
        r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"q\":"}}"#,
        r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":5}}"#,
        r#"{"type":"message_stop"}"#,
        r#"{"type":"ping"}"#,
        r#"{"type":"a_future_event","payload":{"x":1}}"#,
    ] {
        round_trip::<StreamEvent>(event);
    }
}

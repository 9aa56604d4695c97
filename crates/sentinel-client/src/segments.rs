//! Where the text is: the routes the pipeline understands, and JSON pointers to every
//! string a request or response carries that a person or a model wrote (message contents,
//! text parts, tool-call arguments, tool results, system prompts, prompts, inputs).

use serde_json::Value;

/// A provider route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    /// OpenAI `POST /v1/chat/completions`.
    ChatCompletions,
    /// OpenAI `POST /v1/completions`.
    Completions,
    /// OpenAI `POST /v1/embeddings`.
    Embeddings,
    /// OpenAI `POST /v1/responses`.
    Responses,
    /// Anthropic `POST /v1/messages`.
    Messages,
}

impl Route {
    /// The path under the provider's base (`/chat/completions`), as upstreams expect it.
    pub fn upstream_path(self) -> &'static str {
        match self {
            Route::ChatCompletions => "/chat/completions",
            Route::Completions => "/completions",
            Route::Embeddings => "/embeddings",
            Route::Responses => "/responses",
            Route::Messages => "/messages",
        }
    }

    /// The gateway path, as metrics and audit records name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::ChatCompletions => "/v1/chat/completions",
            Route::Completions => "/v1/completions",
            Route::Embeddings => "/v1/embeddings",
            Route::Responses => "/v1/responses",
            Route::Messages => "/v1/messages",
        }
    }

    /// Every route, for metrics.
    pub const ALL: [Route; 5] = [
        Route::ChatCompletions,
        Route::Completions,
        Route::Embeddings,
        Route::Responses,
        Route::Messages,
    ];
}

fn esc(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Pointers to the string leaves under `at` (objects' values and arrays' items).
fn strings_under(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::String(_) => out.push(at.to_owned()),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                strings_under(item, &format!("{at}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                strings_under(item, &format!("{at}/{}", esc(k)), out);
            }
        }
        _ => {}
    }
}

/// A string, or the `text` of each part of a list.
fn content(v: Option<&Value>, at: &str, out: &mut Vec<String>) {
    match v {
        Some(Value::String(_)) => out.push(at.to_owned()),
        Some(Value::Array(parts)) => {
            for (i, p) in parts.iter().enumerate() {
                let here = format!("{at}/{i}");
                match p.get("type").and_then(Value::as_str) {
                    Some("tool_use") => {
                        if let Some(input) = p.get("input") {
                            strings_under(input, &format!("{here}/input"), out);
                        }
                    }
                    Some("tool_result") => {
                        content(p.get("content"), &format!("{here}/content"), out)
                    }
                    _ => {
                        if p.get("text").is_some_and(Value::is_string) {
                            out.push(format!("{here}/text"));
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

fn chat_message(m: &Value, at: &str, out: &mut Vec<String>) {
    content(m.get("content"), &format!("{at}/content"), out);
    if let Some(Value::Array(calls)) = m.get("tool_calls") {
        for (k, c) in calls.iter().enumerate() {
            if c.pointer("/function/arguments")
                .is_some_and(Value::is_string)
            {
                out.push(format!("{at}/tool_calls/{k}/function/arguments"));
            }
        }
    }
}

/// Pointers to the request's text, in document order.
pub fn request_segments(route: Route, body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match route {
        Route::ChatCompletions => {
            if let Some(Value::Array(ms)) = body.get("messages") {
                for (i, m) in ms.iter().enumerate() {
                    chat_message(m, &format!("/messages/{i}"), &mut out);
                }
            }
        }
        Route::Completions => {
            if let Some(p) = body.get("prompt") {
                strings_under(p, "/prompt", &mut out);
            }
        }
        Route::Embeddings => {
            if let Some(p) = body.get("input") {
                strings_under(p, "/input", &mut out);
            }
        }
        Route::Responses => {
            if body.get("instructions").is_some_and(Value::is_string) {
                out.push("/instructions".to_owned());
            }
            match body.get("input") {
                Some(Value::String(_)) => out.push("/input".to_owned()),
                Some(Value::Array(items)) => {
                    for (i, item) in items.iter().enumerate() {
                        let at = format!("/input/{i}");
                        content(item.get("content"), &format!("{at}/content"), &mut out);
                        for field in ["arguments", "output"] {
                            if item.get(field).is_some_and(Value::is_string) {
                                out.push(format!("{at}/{field}"));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        Route::Messages => {
            content(body.get("system"), "/system", &mut out);
            if let Some(Value::Array(ms)) = body.get("messages") {
                for (i, m) in ms.iter().enumerate() {
                    content(
                        m.get("content"),
                        &format!("/messages/{i}/content"),
                        &mut out,
                    );
                }
            }
        }
    }
    out
}

/// Pointers to a (whole, not streamed) response's text.
pub fn response_segments(route: Route, body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match route {
        Route::ChatCompletions => {
            if let Some(Value::Array(cs)) = body.get("choices") {
                for (i, c) in cs.iter().enumerate() {
                    if let Some(m) = c.get("message") {
                        chat_message(m, &format!("/choices/{i}/message"), &mut out);
                    }
                }
            }
        }
        Route::Completions => {
            if let Some(Value::Array(cs)) = body.get("choices") {
                for (i, c) in cs.iter().enumerate() {
                    if c.get("text").is_some_and(Value::is_string) {
                        out.push(format!("/choices/{i}/text"));
                    }
                }
            }
        }
        Route::Embeddings => {}
        Route::Responses => {
            if let Some(Value::Array(items)) = body.get("output") {
                for (i, item) in items.iter().enumerate() {
                    content(
                        item.get("content"),
                        &format!("/output/{i}/content"),
                        &mut out,
                    );
                    if item.get("arguments").is_some_and(Value::is_string) {
                        out.push(format!("/output/{i}/arguments"));
                    }
                }
            }
        }
        Route::Messages => content(body.get("content"), "/content", &mut out),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_every_text_a_chat_request_carries() {
        let body = json!({"model":"m","messages":[
            {"role":"system","content":"sys"},
            {"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"x"}}]},
            {"role":"assistant","content":null,"tool_calls":[{"id":"1","type":"function","function":{"name":"f","arguments":"{\"a\":\"b\"}"}}]},
            {"role":"tool","tool_call_id":"1","content":"result"}]});
        assert_eq!(
            request_segments(Route::ChatCompletions, &body),
            [
                "/messages/0/content",
                "/messages/1/content/0/text",
                "/messages/2/tool_calls/0/function/arguments",
                "/messages/3/content"
            ]
        );
        let anthropic = json!({"system":"s","messages":[{"role":"user","content":[
            {"type":"text","text":"t"},
            {"type":"tool_result","tool_use_id":"x","content":[{"type":"text","text":"r"}]},
            {"type":"tool_use","id":"y","name":"f","input":{"q":"v","n":[ "w" ]}}]}]});
        assert_eq!(
            request_segments(Route::Messages, &anthropic),
            [
                "/system",
                "/messages/0/content/0/text",
                "/messages/0/content/1/content/0/text",
                "/messages/0/content/2/input/n/0",
                "/messages/0/content/2/input/q"
            ]
        );
        assert_eq!(
            request_segments(Route::Embeddings, &json!({"input":["a","b"]})),
            ["/input/0", "/input/1"]
        );
    }
}

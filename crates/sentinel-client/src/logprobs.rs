//! Token log-probabilities in streamed answers.
//!
//! A caller that asks for `logprobs` gets, beside each piece of text, the model's tokens
//! for it. Their strings spell the text as the model wrote it, so they may only go out
//! with text the gateway passed on unchanged, and no sooner than that text: a stream holds
//! text back while a value may still be forming. A [`TokenTrail`] follows one streamed
//! text: it keeps the tokens of what is held and gives each released piece the tokens it
//! covers whole. Once the released text is no longer the model's (a value was redacted or
//! restored, or the tokens did not spell their piece), the rest of that text's tokens are
//! dropped. Whole answers do not need this: a changed text loses its list
//! ([`crate::segments::drop_logprobs`]).

use std::collections::VecDeque;

use serde_json::Value;

use crate::segments::Step;

/// The tokens of one streamed text that are not passed on yet.
#[derive(Debug, Default)]
pub(crate) struct TokenTrail {
    /// The model's bytes from the first token not passed on.
    model: Vec<u8>,
    /// The tokens not passed on, with their length in bytes.
    tokens: VecDeque<(usize, Value)>,
    /// How many bytes of `model` were released (equal to the model's) beyond the tokens
    /// passed on: the start of a token cut by the last release.
    released: usize,
    /// The released text stopped being the model's, or a piece came without its tokens:
    /// nothing more is passed on.
    lost: bool,
}

impl TokenTrail {
    /// Takes a piece the model wrote with its event's tokens (`None` when the event had
    /// none), and the text released in its place; the tokens that released text covers
    /// whole, or `None` when none may go out.
    pub(crate) fn follow(
        &mut self,
        piece: &str,
        tokens: Option<Vec<Value>>,
        released: &str,
    ) -> Option<Vec<Value>> {
        if self.lost {
            return None;
        }
        match tokens {
            Some(list) => {
                let lens: Vec<usize> = list.iter().map(token_len).collect();
                if lens.iter().sum::<usize>() != piece.len() {
                    // Tokens that do not spell their piece cannot be lined up with it.
                    return self.lose();
                }
                self.model.extend_from_slice(piece.as_bytes());
                self.tokens.extend(lens.into_iter().zip(list));
            }
            None if piece.is_empty() => {}
            None => return self.lose(),
        }
        self.release(released)
    }

    /// The tokens of `released`, the text let out after the model's last piece (what a
    /// text held when it ended): all that are left when it is the model's rest.
    pub(crate) fn release(&mut self, released: &str) -> Option<Vec<Value>> {
        if self.lost {
            return None;
        }
        if !self.model[self.released..].starts_with(released.as_bytes()) {
            return self.lose();
        }
        self.released += released.len();
        let mut out = Vec::new();
        while let Some(&(len, _)) = self.tokens.front() {
            if len > self.released {
                break;
            }
            let (len, token) = self.tokens.pop_front().expect("a front token");
            self.released -= len;
            self.model.drain(..len);
            out.push(token);
        }
        Some(out)
    }

    fn lose(&mut self) -> Option<Vec<Value>> {
        self.lost = true;
        self.model = Vec::new();
        self.tokens = VecDeque::new();
        None
    }
}

/// A token's length in bytes: its `bytes` (a token may end inside a character), else its
/// string's.
fn token_len(token: &Value) -> usize {
    match token.get("bytes").and_then(Value::as_array) {
        Some(bytes) => bytes.len(),
        None => token
            .get("token")
            .and_then(Value::as_str)
            .map_or(0, str::len),
    }
}

/// Where the token list of a streamed text is in its event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListAt {
    /// A chat choice's `logprobs.content` (beside `delta.content`) or `logprobs.refusal`
    /// (beside `delta.refusal`): the choice's position and the field.
    Choice(usize, &'static str),
    /// The event's own `logprobs`, beside its `delta` (Responses API and transcription
    /// delta events).
    Event,
}

impl ListAt {
    /// Where the list of the text at `path` is; `None` for texts whose tokens have no
    /// list of their own (a legacy completion's parallel arrays, tool arguments,
    /// reasoning).
    pub(crate) fn of(path: &[Step]) -> Option<ListAt> {
        match path {
            [Step::Key("choices"), Step::Index(i), Step::Key("delta"), Step::Key(field @ ("content" | "refusal"))] => {
                Some(ListAt::Choice(*i, field))
            }
            [Step::Key("delta")] => Some(ListAt::Event),
            _ => None,
        }
    }

    /// The list in `event`.
    pub(crate) fn get(self, event: &Value) -> Option<&Value> {
        match self {
            ListAt::Choice(i, field) => event.get("choices")?.get(i)?.get("logprobs")?.get(field),
            ListAt::Event => event.get("logprobs"),
        }
    }

    /// The list in `event`, to change.
    pub(crate) fn get_mut(self, event: &mut Value) -> Option<&mut Value> {
        match self {
            ListAt::Choice(i, field) => event
                .get_mut("choices")?
                .get_mut(i)?
                .get_mut("logprobs")?
                .get_mut(field),
            ListAt::Event => event.get_mut("logprobs"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tokens(ts: &[&str]) -> Option<Vec<Value>> {
        Some(ts.iter().map(|t| json!({"token": t})).collect())
    }

    fn names(v: Option<Vec<Value>>) -> Option<Vec<String>> {
        v.map(|l| {
            l.iter()
                .map(|t| t["token"].as_str().expect("a token").to_owned())
                .collect()
        })
    }

    #[test]
    fn tokens_follow_the_text_they_spell_as_it_is_released() {
        let mut trail = TokenTrail::default();
        // Held whole: nothing to pass on yet.
        assert_eq!(
            names(trail.follow("Hel", tokens(&["He", "l"]), "")),
            Some(vec![])
        );
        // Released up to inside a token: the tokens before it go.
        assert_eq!(
            names(trail.follow("lo wo", tokens(&["lo", " wo"]), "Hello w")),
            Some(vec!["He".into(), "l".into(), "lo".into()])
        );
        // The rest, when the text ends.
        assert_eq!(names(trail.release("o")), Some(vec![" wo".into()]));
    }

    #[test]
    fn a_changed_text_passes_no_tokens_from_then_on() {
        let mut trail = TokenTrail::default();
        assert_eq!(
            names(trail.follow("Mail a@b.c", tokens(&["Mail", " a@b.c"]), "Mail ")),
            Some(vec!["Mail".into()])
        );
        assert_eq!(trail.follow(" now", tokens(&[" now"]), "[EMAIL] now"), None);
        assert_eq!(trail.follow(" ok", tokens(&[" ok"]), " ok"), None);
        assert_eq!(trail.release(""), None);
    }

    #[test]
    fn tokens_that_do_not_spell_their_piece_or_are_missing_are_not_lined_up() {
        let mut trail = TokenTrail::default();
        assert_eq!(trail.follow("abc", tokens(&["ab"]), "abc"), None);
        let mut trail = TokenTrail::default();
        assert_eq!(trail.follow("abc", None, "abc"), None);
        assert_eq!(trail.follow("d", tokens(&["d"]), "d"), None);
        // A token's bytes count, not its printed string.
        let mut trail = TokenTrail::default();
        let split = Some(vec![
            json!({"token": "bytes:\\xc3", "bytes": [0xc3]}),
            json!({"token": "bytes:\\xa9", "bytes": [0xa9]}),
        ]);
        assert_eq!(trail.follow("é", split, "é").map(|l| l.len()), Some(2));
    }

    #[test]
    fn lists_sit_beside_their_texts() {
        use Step::{Index, Key};
        let at = ListAt::of(&[Key("choices"), Index(1), Key("delta"), Key("refusal")]);
        assert_eq!(at, Some(ListAt::Choice(1, "refusal")));
        let chunk = json!({"choices": [{}, {"logprobs": {"content": null, "refusal": [1]}}]});
        assert_eq!(at.and_then(|a| a.get(&chunk)), Some(&json!([1])));
        assert_eq!(ListAt::of(&[Key("delta")]), Some(ListAt::Event));
        assert_eq!(ListAt::of(&[Key("choices"), Index(0), Key("text")]), None);
    }
}

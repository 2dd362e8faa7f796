//! The people-facing pages' languages: English, Dutch, Swedish, Polish and Norwegian (Bokmål).
//!
//! Messages live in Project Fluent catalogues, `locales/<lang>.ftl`, one per language, compiled
//! into the binary. Messages without variables are formatted once into a static table, so a page
//! asks `lang.t(…)` with the key and gets a `&'static str`; messages with variables (plurals, the date
//! pattern) are formatted on demand by [`Lang::t_args`]. Tests fail when a catalogue does not
//! parse, when a message is missing in any language, or when the code names a key no catalogue
//! has; a debug build panics on such a key, so no page test passes while showing a raw key.
//!
//! The language is chosen from `?lang=` (the visible switch on every page, [`switch`]), then the
//! `tl_lang` cookie that choice sets ([`remember_choice`]), then `Accept-Language`, then English.

use std::{collections::HashMap, sync::OnceLock};

use axum::{
    extract::{FromRequestParts, Request},
    http::{HeaderMap, header, request::Parts},
    middleware::Next,
    response::Response,
};
use fluent_bundle::{FluentArgs, FluentResource, FluentValue, concurrent::FluentBundle};
use maud::{Markup, html};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    En,
    Nl,
    Sv,
    Pl,
    No,
}

/// The language-choice cookie set by the switch.
pub const LANG_COOKIE: &str = "tl_lang";

/// The query parameter the switch's links carry.
pub const LANG_PARAM: &str = "lang";

const SOURCES: [(Lang, &str); 5] = [
    (Lang::En, include_str!("../../locales/en.ftl")),
    (Lang::Nl, include_str!("../../locales/nl.ftl")),
    (Lang::Sv, include_str!("../../locales/sv.ftl")),
    (Lang::Pl, include_str!("../../locales/pl.ftl")),
    (Lang::No, include_str!("../../locales/no.ftl")),
];

struct Catalogues {
    bundles: HashMap<Lang, FluentBundle<FluentResource>>,
    /// Messages without variables, formatted once.
    plain: HashMap<(Lang, String), &'static str>,
}

/// The message ids of one catalogue, in file order (terms and comments left out).
fn message_ids(resource: &FluentResource) -> Vec<String> {
    resource
        .entries()
        .filter_map(|e| match e {
            fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_string()),
            _ => None,
        })
        .collect()
}

/// Parse every catalogue once. A message that fails to parse or format is left out (the tests
/// make sure none does); lookups then fall back to English.
fn catalogues() -> &'static Catalogues {
    static CATALOGUES: OnceLock<Catalogues> = OnceLock::new();
    CATALOGUES.get_or_init(|| {
        let mut bundles = HashMap::new();
        let mut plain = HashMap::new();
        for (lang, source) in SOURCES {
            let resource = FluentResource::try_new(source.to_string()).unwrap_or_else(|(r, e)| {
                tracing::error!(
                    lang = lang.code(),
                    errors = e.len(),
                    "catalogue has syntax errors"
                );
                r
            });
            let ids = message_ids(&resource);
            let Ok(locale) = lang.code().parse() else {
                continue;
            };
            let mut bundle = FluentBundle::new_concurrent(vec![locale]);
            // The pages are each in one language: no bidi isolation marks around variables.
            bundle.set_use_isolating(false);
            if bundle.add_resource(resource).is_err() {
                tracing::error!(lang = lang.code(), "catalogue has duplicate messages");
            }
            for id in ids {
                let Some(pattern) = bundle.get_message(&id).and_then(|m| m.value()) else {
                    continue;
                };
                let mut errors = Vec::new();
                let text = bundle
                    .format_pattern(pattern, None, &mut errors)
                    .to_string();
                // A message with variables reports them missing here: it is formatted per call.
                if errors.is_empty() {
                    plain.insert((lang, id), &*Box::leak(text.into_boxed_str()));
                }
            }
            bundles.insert(lang, bundle);
        }
        Catalogues { bundles, plain }
    })
}

/// A key no catalogue has is a bug the tests must catch; in a release build the page shows
/// nothing rather than the raw key.
fn missing(key: &str) -> &'static str {
    tracing::error!(key, "message missing from every catalogue");
    if cfg!(debug_assertions) {
        panic!("message `{key}` is missing from every catalogue");
    }
    ""
}

impl Lang {
    pub const ALL: [Lang; 5] = [Lang::En, Lang::Nl, Lang::Sv, Lang::Pl, Lang::No];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Nl => "nl",
            Lang::Sv => "sv",
            Lang::Pl => "pl",
            Lang::No => "no",
        }
    }

    /// The language's name in itself, for the switch.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Nl => "Nederlands",
            Lang::Sv => "Svenska",
            Lang::Pl => "Polski",
            Lang::No => "Norsk",
        }
    }

    /// A language tag's primary subtag; Norwegian Bokmål and Nynorsk (`nb`, `nn`) read `no`.
    pub fn parse(tag: &str) -> Option<Self> {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or_default();
        match primary.to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "nl" => Some(Lang::Nl),
            "sv" => Some(Lang::Sv),
            "pl" => Some(Lang::Pl),
            "no" | "nb" | "nn" => Some(Lang::No),
            _ => None,
        }
    }

    /// Pick the supported language the browser prefers most (RFC 9110 §12.5.4 weights);
    /// English when none is acceptable.
    pub fn from_accept_language(header: &str) -> Self {
        let mut best = (Lang::En, 0.0_f32);
        for item in header.split(',') {
            let mut parts = item.trim().split(';');
            let tag = parts.next().unwrap_or_default().trim();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q=").map(str::to_string))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let Some(lang) = Lang::parse(tag) else {
                continue;
            };
            // Strictly greater: among equal weights the first listed wins.
            if q > best.1 {
                best = (lang, q);
            }
        }
        best.0
    }

    /// The message `key` in this language (English if this language lacked it, which a test
    /// forbids; never the raw key).
    pub fn t(self, key: &'static str) -> &'static str {
        let plain = &catalogues().plain;
        plain
            .get(&(self, key.to_string()))
            .or_else(|| plain.get(&(Lang::En, key.to_string())))
            .copied()
            .unwrap_or_else(|| missing(key))
    }

    /// A message with variables (a plural, the date pattern), formatted in this language.
    pub fn t_args(self, key: &'static str, args: &[(&'static str, FluentValue<'_>)]) -> String {
        let bundles = &catalogues().bundles;
        let mut fluent_args = FluentArgs::new();
        for (name, value) in args {
            fluent_args.set(*name, value.clone());
        }
        for lang in [self, Lang::En] {
            let Some(bundle) = bundles.get(&lang) else {
                continue;
            };
            let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) else {
                continue;
            };
            let mut errors = Vec::new();
            let text = bundle.format_pattern(pattern, Some(&fluent_args), &mut errors);
            if errors.is_empty() {
                return text.into_owned();
            }
            tracing::error!(key, lang = lang.code(), ?errors, "message did not format");
        }
        missing(key).to_string()
    }

    /// A moment in this language's way of writing dates, in UTC (the pages do not know the
    /// customer's time zone, so they say which one they use). The pattern and the month
    /// names (in Polish, the genitive a date needs) are the catalogues' `date_time` and
    /// `month_1`…`month_12`.
    pub fn date_time(self, ms: i64) -> String {
        let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        else {
            return ms.to_string();
        };
        const MONTHS: [&str; 12] = [
            "month_1", "month_2", "month_3", "month_4", "month_5", "month_6", "month_7", "month_8",
            "month_9", "month_10", "month_11", "month_12",
        ];
        let month = self.t(MONTHS[usize::from(u8::from(t.month())) - 1]);
        // Strings, not numbers: Fluent would format numbers for the locale (no "2 026").
        self.t_args(
            "date_time",
            &[
                ("day", FluentValue::from(t.day().to_string())),
                ("month", FluentValue::from(month)),
                ("year", FluentValue::from(t.year().to_string())),
                (
                    "time",
                    FluentValue::from(format!("{:02}:{:02}", t.hour(), t.minute())),
                ),
            ],
        )
    }

    /// The language of a request: the switch's `?lang=`, else its cookie, else the browser's
    /// `Accept-Language`, else English.
    pub fn of_request(uri: &axum::http::Uri, headers: &HeaderMap) -> Self {
        query_choice(uri)
            .or_else(|| super::web::cookie(headers, LANG_COOKIE).and_then(Lang::parse))
            .unwrap_or_else(|| {
                headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .map(Lang::from_accept_language)
                    .unwrap_or(Lang::En)
            })
    }
}

fn query_choice(uri: &axum::http::Uri) -> Option<Lang> {
    uri.query()?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == LANG_PARAM)
        .and_then(|(_, v)| Lang::parse(v))
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Lang::of_request(&parts.uri, &parts.headers))
    }
}

/// Middleware: a request that chose a language with the switch (`?lang=xx`) gets the choice
/// remembered in a cookie for a year, so the next pages (and form posts) keep it.
pub async fn remember_choice(
    axum::extract::State(secure): axum::extract::State<bool>,
    request: Request,
    next: Next,
) -> Response {
    let chosen = query_choice(request.uri());
    let mut response = next.run(request).await;
    if let Some(lang) = chosen {
        response.headers_mut().append(
            header::SET_COOKIE,
            super::web::set_cookie(LANG_COOKIE, lang.code(), 365 * 24 * 3600, secure),
        );
    }
    response
}

/// The visible language switch: every language by its own name, each a link to this page in
/// that language (a relative `?lang=` link, so it needs no knowledge of the page's path).
pub fn switch(current: Lang) -> Markup {
    html! {
        nav.lang aria-label=(current.t("language")) data-testid="lang-switch" {
            @for l in Lang::ALL {
                a href={ "?" (LANG_PARAM) "=" (l.code()) } lang=(l.code()) hreflang=(l.code())
                    aria-current=[(l == current).then_some("true")] data-lang=(l.code()) {
                    (l.native_name())
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn accept_language_picks_the_preferred_supported_language() {
        assert_eq!(
            Lang::from_accept_language("nl-NL,nl;q=0.9,en;q=0.8"),
            Lang::Nl
        );
        assert_eq!(
            Lang::from_accept_language("en-GB,en;q=0.9,nl;q=0.8"),
            Lang::En
        );
        assert_eq!(Lang::from_accept_language("fr-FR,nl;q=0.5"), Lang::Nl);
        assert_eq!(Lang::from_accept_language("fr-FR,de;q=0.5"), Lang::En);
        assert_eq!(Lang::from_accept_language("en;q=0.2,nl;q=0.9"), Lang::Nl);
        assert_eq!(Lang::from_accept_language(""), Lang::En);
        assert_eq!(Lang::from_accept_language("nl;q=0"), Lang::En);
        assert_eq!(Lang::from_accept_language("sv-SE"), Lang::Sv);
        assert_eq!(Lang::from_accept_language("pl-PL,en;q=0.5"), Lang::Pl);
        assert_eq!(Lang::from_accept_language("nb-NO,en;q=0.5"), Lang::No);
        assert_eq!(Lang::from_accept_language("nn"), Lang::No);
    }

    #[test]
    fn the_switch_beats_the_cookie_which_beats_the_browser() {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_LANGUAGE, "nl".parse().unwrap());
        let uri: axum::http::Uri = "/privacy".parse().unwrap();
        assert_eq!(Lang::of_request(&uri, &headers), Lang::Nl);
        headers.insert(header::COOKIE, "a=1; tl_lang=sv".parse().unwrap());
        assert_eq!(Lang::of_request(&uri, &headers), Lang::Sv);
        let uri: axum::http::Uri = "/privacy?x=1&lang=pl".parse().unwrap();
        assert_eq!(Lang::of_request(&uri, &headers), Lang::Pl);
        // An unknown choice is no choice.
        let uri: axum::http::Uri = "/privacy?lang=xx".parse().unwrap();
        assert_eq!(Lang::of_request(&uri, &headers), Lang::Sv);
    }

    fn ids(source: &str) -> Vec<String> {
        let resource = FluentResource::try_new(source.to_string())
            .unwrap_or_else(|(_, e)| panic!("catalogue does not parse: {e:?}"));
        message_ids(&resource)
    }

    /// Sample arguments for the messages that take variables (every one must be listed here,
    /// so each is formatted in every language below).
    fn sample_args(id: &str) -> Option<Vec<(&'static str, FluentValue<'static>)>> {
        match id {
            "attempts_left" | "consents_past" => Some(vec![("count", FluentValue::from(2))]),
            "date_time" => Some(vec![
                ("day", "3".into()),
                ("month", "December".into()),
                ("year", "2026".into()),
                ("time", "09:37".into()),
            ]),
            _ => None,
        }
    }

    /// Translation coverage: every message of en.ftl in every catalogue, no other message, each
    /// formatting without error to a non-empty text; printed as keys × languages.
    #[test]
    fn every_message_exists_in_every_language_and_formats() {
        let english = ids(SOURCES[0].1);
        let mut keys = english.clone();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), english.len(), "duplicate keys in en.ftl");
        let mut formatted = 0;
        for (lang, source) in SOURCES {
            let mut ids = ids(source);
            ids.sort();
            assert_eq!(ids, keys, "{} has other keys than en", lang.code());
            for id in &ids {
                let text = match sample_args(id) {
                    Some(args) => {
                        let bundle = &catalogues().bundles[&lang];
                        let pattern = bundle.get_message(id).unwrap().value().unwrap();
                        let mut fa = FluentArgs::new();
                        for (k, v) in args {
                            fa.set(k, v);
                        }
                        let mut errors = Vec::new();
                        let t = bundle.format_pattern(pattern, Some(&fa), &mut errors);
                        assert!(errors.is_empty(), "{}: {id}: {errors:?}", lang.code());
                        t.into_owned()
                    }
                    None => catalogues()
                        .plain
                        .get(&(lang, id.clone()))
                        .map(|t| t.to_string())
                        .unwrap_or_else(|| panic!("{}: {id} does not format", lang.code())),
                };
                assert!(!text.trim().is_empty(), "{}: {id} is empty", lang.code());
                formatted += 1;
            }
        }
        assert_eq!(formatted, keys.len() * Lang::ALL.len());
        println!(
            "translation coverage: {} keys × {} languages = {formatted} of {} messages (100 %)",
            keys.len(),
            Lang::ALL.len(),
            keys.len() * Lang::ALL.len()
        );
    }

    /// A translation is not a copy of English: outside a short list of words that really are
    /// the same (names, "Status", "Model", …), every language's text differs from English.
    #[test]
    fn translations_are_not_copies_of_english() {
        // The product's name, and words Dutch, Swedish, Polish or Norwegian share with English.
        const SAME_IN_SOME_LANGUAGES: &[&str] = &[
            "app",
            "index",
            "model",
            "passkey_binding_code",
            "passkeys",
            "session_id",
            "status",
            "text",
            "version",
        ];
        let plain = &catalogues().plain;
        let mut copies = Vec::new();
        for ((lang, id), text) in plain {
            if *lang == Lang::En || SAME_IN_SOME_LANGUAGES.contains(&id.as_str()) {
                continue;
            }
            if plain.get(&(Lang::En, id.clone())) == Some(text) {
                copies.push(format!("{}:{id}", lang.code()));
            }
        }
        copies.sort();
        assert!(copies.is_empty(), "copied from English: {copies:?}");
    }

    /// Keys the code names: every `t("…")` and `t_args("…"` literal and every literal message
    /// of `PageError::new(…)` in src/, plus the link refusal codes pages show.
    #[test]
    fn every_key_the_code_uses_is_in_the_catalogues() {
        let mut used = Vec::new();
        let mut stack = vec![std::path::PathBuf::from("src")];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for opener in [".t(\"", ".t_args(\""] {
                        for chunk in text.split(opener).skip(1) {
                            used.push(chunk.split('"').next().unwrap().to_string());
                        }
                    }
                    // The message argument of a `PageError` built with `new`, when it is a
                    // literal (its quote comes before the call's closing parenthesis).
                    for chunk in text.split("PageError::new(").skip(1) {
                        let call = chunk.split(')').next().unwrap();
                        if let Some(key) = call.split('"').nth(1) {
                            used.push(key.to_string());
                        }
                    }
                }
            }
        }
        use crate::consent::links::LinkRefusal;
        for r in [
            LinkRefusal::Invalid,
            LinkRefusal::Expired,
            LinkRefusal::Used,
            LinkRefusal::Locked,
            LinkRefusal::WrongCode { attempts_left: 1 },
            LinkRefusal::OtherDevice,
        ] {
            used.push(r.code().to_string());
        }
        // Only what looks like a key (a literal in this test's own code is not one).
        used.retain(|k| {
            !k.is_empty()
                && k.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        });
        used.sort();
        used.dedup();
        assert!(used.len() > 100, "found only {} keys", used.len());
        let bundles = &catalogues().bundles;
        for key in used {
            for lang in Lang::ALL {
                assert!(
                    bundles[&lang].has_message(&key),
                    "`{key}` is used but missing in {}",
                    lang.code()
                );
            }
        }
    }

    /// No dead messages: every key of the catalogues is named somewhere in src/ (a literal
    /// `"key"`, also where a page picks one from a match or a table).
    #[test]
    fn every_message_is_used() {
        let mut sources = String::new();
        let mut stack = vec![std::path::PathBuf::from("src")];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    sources.push_str(&std::fs::read_to_string(&path).unwrap());
                }
            }
        }
        let unused: Vec<String> = ids(SOURCES[0].1)
            .into_iter()
            .filter(|k| !sources.contains(&format!("\"{k}\"")))
            .collect();
        assert!(unused.is_empty(), "messages no code uses: {unused:?}");
    }

    #[test]
    #[should_panic(expected = "missing from every catalogue")]
    fn a_missing_key_is_never_shown_raw() {
        Lang::Pl.t(concat!("no_such_", "message_anywhere"));
    }

    #[test]
    fn plurals_follow_each_language() {
        let left = |lang: Lang, n: i64| lang.t_args("attempts_left", &[("count", n.into())]);
        assert_eq!(left(Lang::En, 1), "1 attempt left.");
        assert_eq!(left(Lang::En, 4), "4 attempts left.");
        assert_eq!(left(Lang::Pl, 1), "Została 1 próba.");
        assert_eq!(left(Lang::Pl, 3), "Zostały 3 próby.");
        assert_eq!(left(Lang::Pl, 5), "Zostało 5 prób.");
        assert_eq!(left(Lang::Nl, 1), "Nog 1 poging.");
        assert_eq!(left(Lang::Sv, 2), "2 försök kvar.");
        assert_eq!(left(Lang::No, 1), "1 forsøk igjen.");
    }

    #[test]
    fn dates_read_in_the_customers_language() {
        let ms = 1_796_290_620_000; // 2026-12-03 09:37 UTC
        assert_eq!(Lang::En.date_time(ms), "3 December 2026, 09:37 UTC");
        assert_eq!(Lang::Nl.date_time(ms), "3 december 2026 om 09:37 UTC");
        assert_eq!(Lang::Sv.date_time(ms), "3 december 2026 kl. 09:37 UTC");
        assert_eq!(Lang::Pl.date_time(ms), "3 grudnia 2026 r., 09:37 UTC");
        assert_eq!(Lang::No.date_time(ms), "3. desember 2026 kl. 09:37 UTC");
    }

    #[test]
    fn the_switch_names_every_language_and_marks_the_current_one() {
        let html = switch(Lang::Pl).into_string();
        for l in Lang::ALL {
            assert!(
                html.contains(&format!("href=\"?lang={}\"", l.code())),
                "{html}"
            );
        }
        assert!(
            html.contains("aria-current=\"true\" data-lang=\"pl\""),
            "{html}"
        );
        assert!(html.contains("aria-label=\"Język\""), "{html}");
    }
}

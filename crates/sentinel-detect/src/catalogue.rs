//! The built-in recognizers. Each is plain data (see [`Recognizer`]); their order is the
//! tie-break of last resort when two findings overlap with equal score and length.

use crate::recognizer::{Boundary, Recognizer, Trigger};
use crate::validate::Validator;

/// ASCII word boundary. Unicode `\b` would make the lazy DFA give up on non-ASCII text.
const B: &str = r"(?-u:\b)";

/// The letters of Chinese, Japanese and Korean ([`crate::stream::CJK`]) as the inside of a
/// regex class: left out of the open-ended values (URLs, passwords), which those scripts,
/// written without spaces, would otherwise run on into (`詳細はhttps://example.com/docs
/// をご覧ください` took the sentence after the address).
fn cjk() -> String {
    crate::stream::CJK
        .iter()
        .map(|&(lo, hi)| format!(r"\x{{{:X}}}-\x{{{:X}}}", u32::from(lo), u32::from(hi)))
        .collect()
}

fn digits() -> Trigger {
    Trigger::Bytes(b"0123456789".to_vec())
}

fn lits(l: &[&str]) -> Trigger {
    Trigger::Literals(l.iter().map(|s| (*s).to_owned()).collect())
}

/// A Medicare Beneficiary Identifier's letters (no S, L, O, I, B or Z) and the positions
/// that take a letter or a digit.
const MBI_L: &str = "[AC-HJKMNP-RT-Y]";
const MBI_A: &str = "[AC-HJKMNP-RT-Y0-9]";

/// A codice fiscale's digit positions: a digit, or the letter that stands for it in a
/// code made unique (omocodia).
const CF_D: &str = "[0-9LMNPQRSTUV]";

const PEM_KIND: &str = r"(?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?";

/// The entity types the built-in catalogue reports, in catalogue order, without repeats.
pub fn builtin_entities() -> Vec<String> {
    let mut seen = Vec::new();
    for r in builtin() {
        if !seen.contains(&r.entity) {
            seen.push(r.entity);
        }
    }
    seen
}

/// The built-in recognizers, in priority order.
///
/// # Example: list them
///
/// ```
/// let names: Vec<String> = sentinel_detect::builtin().into_iter().map(|r| r.name).collect();
/// assert!(names.contains(&"credit_card".to_string()));
/// ```
pub fn builtin() -> Vec<Recognizer> {
    let phone_ctx = [
        "phone",
        "tel",
        "telephone",
        "mobile",
        "cell",
        "call",
        "fax",
        "contact",
        "whatsapp",
        "sms",
        "móvil",
        "movil",
        "cellulare",
        "celular",
        // Japanese, Chinese and Korean words for a phone (`tel` reads `telefono` and
        // `téléphone` already): their national numbers start with the trunk 0
        // (`電話番号は090-1234-5678です`, `전화 010-1234-5678`), which only a context word
        // lifts over the threshold (and Chinese mobile numbers written whole, which have no
        // trunk 0: `手机13800138000`). A byte past ASCII before a word counts as a word's
        // start, so they count written against the text around them.
        "電話",
        "电话",
        "手机",
        "手機",
        "联系",
        "聯繫",
        "聯絡",
        "携帯",
        "전화",
        "휴대폰",
        "핸드폰",
    ];
    // Every trigger literal (with the context words of recognizers that require one) goes
    // into one Aho-Corasick automaton, whose SIMD prefilter (Teddy) takes at most 64
    // literals: past that the clean 4 KB prompt scanned 2.3 times slower (`cargo bench
    // --bench detect`). Literals shared by a family of prefixes (`xox` for Slack's, `_v1_`
    // for DigitalOcean's) keep the count down; the pattern checks the rest. Each literal
    // also costs by its first three bytes, which Teddy matches by nibbles: lower-case ones
    // alias common prose: Databricks' `dapi` cost the clean prompt about 5% on its own,
    // and the first set of new tokens, with Shopify's `shp` and GitLab's deploy and runner
    // prefixes too, 16% in catalogue order (8.4% without those three; docs/detection.md).
    // Those tokens are left to `generic_secret`.
    vec![
        // --- secrets: literal prefixes, rarely ambiguous -----------------------------------
        // The body may hold backslashes: a key inside JSON text (a tool call's arguments)
        // has its line breaks written `\n`.
        Recognizer::new("private_key", "PRIVATE_KEY",
            &format!(r"-----BEGIN {PEM_KIND}-----[A-Za-z0-9+/=\t\r\n :,.\\-]{{0,6000}}?-----END {PEM_KIND}-----"))
            .with_score(1.0).with_trigger(lits(&["-----BEGIN"])),
        Recognizer::new("private_key_header", "PRIVATE_KEY", &format!(r"-----BEGIN {PEM_KIND}-----"))
            .with_score(0.85).with_trigger(lits(&["-----BEGIN"])),
        Recognizer::new("aws_access_key", "AWS_ACCESS_KEY",
            &format!(r"{B}(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA|ASCA)[A-Z0-9]{{16}}{B}"))
            .with_score(0.95).with_context(["aws", "access key", "key id"])
            .with_trigger(lits(&["AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AIPA", "ANPA", "ANVA", "AROA", "APKA", "ASCA"])),
        Recognizer::new("github_token", "GITHUB_TOKEN",
            &format!(r"{B}(?:gh[pousr]_[A-Za-z0-9]{{36}}|github_pat_[A-Za-z0-9_]{{82}}){B}"))
            .with_score(0.9).with_validator(Validator::GithubChecksum)
            .with_trigger(lits(&["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"])),
        Recognizer::new("anthropic_api_key", "ANTHROPIC_API_KEY",
            &format!(r"{B}sk-ant-(?:api|admin|sid)[0-9]{{2}}-[A-Za-z0-9_-]{{32,}}"))
            .with_score(0.95).with_boundary(Boundary::Key).with_trigger(lits(&["sk-ant-"])),
        Recognizer::new("openai_api_key", "OPENAI_API_KEY",
            &format!(r"{B}sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{{20,}}"))
            .with_score(0.85).with_validator(Validator::OpenAiKey).with_boundary(Boundary::Key)
            .with_context(["openai", "api key", "OPENAI_API_KEY"]).with_trigger(lits(&["sk-"])),
        Recognizer::new("slack_token", "SLACK_TOKEN",
            &format!(r"{B}xox[abposr]-[0-9A-Za-z-]{{10,}}|https://hooks\.slack\.com/services/T[A-Z0-9]{{6,12}}/B[A-Z0-9]{{6,12}}/[A-Za-z0-9]{{20,32}}"))
            .with_score(0.95).with_boundary(Boundary::Key)
            .with_trigger(lits(&["xox", "hooks.slack.com"])),
        Recognizer::new("stripe_key", "STRIPE_KEY",
            &format!(r"{B}(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{{10,99}}{B}"))
            .with_score(0.95).with_trigger(lits(&["k_live_", "k_test_"])),
        Recognizer::new("google_api_key", "GOOGLE_API_KEY", &format!(r"{B}AIza[0-9A-Za-z_-]{{35}}"))
            .with_score(0.9).with_boundary(Boundary::Key).with_trigger(lits(&["AIza"])),
        Recognizer::new("gitlab_token", "GITLAB_TOKEN", &format!(r"{B}glpat-[0-9A-Za-z_-]{{20,64}}"))
            .with_score(0.95).with_boundary(Boundary::Key).with_trigger(lits(&["glpat-"])),
        Recognizer::new("npm_token", "NPM_TOKEN", &format!(r"{B}npm_[A-Za-z0-9]{{36}}{B}"))
            .with_score(0.9).with_trigger(lits(&["npm_"])),
        Recognizer::new("pypi_token", "PYPI_TOKEN",
            &format!(r"{B}pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{{50,}}"))
            .with_score(1.0).with_boundary(Boundary::Key)
            .with_trigger(lits(&["pypi-AgEIcHlwaS5vcmc"])),
        Recognizer::new("huggingface_token", "HUGGINGFACE_TOKEN", &format!(r"{B}hf_[A-Za-z]{{34}}{B}"))
            .with_score(0.9).with_trigger(lits(&["hf_"])),
        Recognizer::new("sendgrid_key", "SENDGRID_KEY",
            &format!(r"{B}SG\.[A-Za-z0-9_-]{{22}}\.[A-Za-z0-9_-]{{43}}"))
            .with_score(0.95).with_boundary(Boundary::Key).with_trigger(lits(&["SG."])),
        Recognizer::new("digitalocean_token", "DIGITALOCEAN_TOKEN",
            &format!(r"{B}do[opr]_v1_[a-f0-9]{{64}}{B}"))
            .with_score(0.95).with_trigger(lits(&["_v1_"])),
        Recognizer::new("google_oauth_secret", "GOOGLE_OAUTH_SECRET",
            &format!(r"{B}GOCSPX-[A-Za-z0-9_-]{{28}}"))
            .with_score(0.95).with_boundary(Boundary::Key).with_trigger(lits(&["GOCSPX-"])),
        Recognizer::new("atlassian_token", "ATLASSIAN_TOKEN",
            &format!(r"{B}ATATT3[A-Za-z0-9_=-]{{180,200}}"))
            .with_score(0.95).with_boundary(Boundary::Key).with_trigger(lits(&["ATATT3"])),
        // The key of an Azure connection string (storage account, Service Bus, Event Hubs).
        Recognizer::new("azure_key", "AZURE_KEY",
            r"(?:AccountKey|SharedAccessKey)=([A-Za-z0-9+/]{86}==|[A-Za-z0-9+/]{43}=)")
            .with_score(0.95).with_value_group(1)
            .with_trigger(lits(&["Key="])),
        // A URI with a password in it: a database's, a broker's (Redis's with no user name,
        // `redis://:pass@host`), a repository's; whole, up
        // to its end, with any `@` its path or query holds (an address it notifies, which
        // would otherwise be cut in two between the two findings).
        Recognizer::new("connection_string", "CONNECTION_STRING",
            &format!(r#"{B}[A-Za-z][A-Za-z0-9+.-]{{1,24}}://[^\s:@/<>"'`{C}]{{0,128}}:[^\s@/<>"'`{C}]{{1,256}}@[^\s<>"'`{{}}|\\^{C}]+"#, C = cjk()))
            .with_score(1.0).with_validator(Validator::UrlCredentials)
            .with_trim_end(".,;:!?)]}'\"").with_trigger(lits(&["://"])),
        Recognizer::new("jwt", "JWT",
            &format!(r"{B}eyJ[A-Za-z0-9_-]{{5,}}\.eyJ[A-Za-z0-9_-]{{2,}}\.[A-Za-z0-9_-]*"))
            .with_score(0.9).with_validator(Validator::Jwt).with_boundary(Boundary::Key)
            .with_trigger(lits(&["eyJ"])),
        Recognizer::new("aws_secret_key", "AWS_SECRET_KEY", r"[A-Za-z0-9/+]{40}")
            .with_score(0.65).with_validator(Validator::AwsSecret).with_boundary(Boundary::Key)
            .with_context(["aws", "secret"])
            .require_context().with_trigger(Trigger::Context),
        // An HTTP `Authorization` (or `Proxy-Authorization`) header's credentials too, as a
        // pasted `curl -H` or a request's headers carry them: `Basic` (a user and password
        // in base64), `Bearer`, `Token` or `Digest`, then the value; the password of a
        // command line's `-u user:password` or `--user user:password` (curl's, wget's), and
        // OpenSSL's `-passin pass:PASSWORD` (`-passout`, `-pass`, `-password`).
        // `PASS` alone only as a name's last part (`DB_PASS=`, `smtp-pass:`): as a word of
        // its own it is prose (`boarding pass: ...`). A password in quotes is read to its
        // closing quote, spaces and all (a passphrase: `password = "correct horse battery
        // staple"`), when it is printable ASCII without `,`, `;`, `` ` ``, `:` or `=`
        // (docs/detection.md, "Passphrases": what those cost); other values end at a space,
        // as keys and tokens do. The value is the first of groups 1 (in `"`), 2 (in `'`)
        // and 3 (bare) that took part.
        Recognizer::new("generic_secret", "GENERIC_SECRET", &{
            let sep = r#"["']?[ \t]{0,3}(?::=|=>|[:=])[ \t]{0,3}"#;
            format!(concat!(
                r#"(?:(?i-u:password|passwd|passphrase|pwd|[_-]pass){sep}(?:"([ !#-+\--9<>-_a-~]{{8,200}})"|'([ -&(-+\--9<>-_a-~]{{8,200}})')"#,
                r#"|(?:(?i-u:password|passwd|passphrase|pwd|[_-]pass|secret|api[_-]?key|access[_-]?key|access[_-]?token|auth[_-]?token|client[_-]?secret|secret[_-]?key|private[_-]?key|token|authorization){sep}["']?(?:(?i-u:basic|bearer|token|digest)[ \t]{{1,3}})?"#,
                r#"|(?:^|[ \t])(?:-u|--user)[ =]["']?[^\s:"'`,;{C}]{{1,12}}:"#,
                r#"|(?:^|[ \t])-pass(?:in|out|word)?[ \t]+["']?pass:)([^\s"'`,;{C}]{{8,200}}))"#,
            ), sep = sep, C = cjk())
        })
            .with_score(0.7).with_validator(Validator::Entropy).with_value_group(1)
            // Keyword (at most 13 bytes), a quote and 3 blanks before `:`/`=`; after it
            // `=`/`>`, 3 blanks, a quote, a scheme and 3 blanks, and at most 200 bytes of
            // value.
            .with_trigger(Trigger::Bytes(b":=".to_vec())).with_trigger_reach(18, 215),
        // A password given on a command line as a flag's argument, with no `:` or `=` for
        // `generic_secret` to start from: `sshpass -p`, the MySQL clients' `-pPASSWORD`
        // (attached: `-p name` prompts, and names a database), a registry's `login -p` or
        // `--password` (`docker`, `podman`, `helm registry`...), MongoDB's tools' `-p`, the
        // LDAP tools' `-w`, `redis-cli -a`, any tool's `--password VALUE`, and curl's `-u
        // user:password` with a user name too long for `generic_secret`. Triggered by the
        // tool's name (or `login`, `--pass`, `-u `), so that the flag means a password
        // there; a value that starts with `-` is the next flag. These eight literals bring
        // the built-in set to 64, what one automaton with its SIMD prefilter (Teddy) holds;
        // more would open a second part, a Teddy pass of its own (docs/detection.md,
        // "Command lines").
        Recognizer::new("cli_password", "GENERIC_SECRET", &{
            let args = r"(?:[ \t]+[^ \t\r\n]+)*?[ \t]+";
            let sshpass = r"sshpass[ \t]+(?:-[vV][ \t]+)*-p";
            let ldap = format!(r"ldap(?:search|add|modify|delete|passwd|compare|whoami|modrdn|exop){args}-w");
            // Flags followed by a blank and the value, which may be in quotes with spaces.
            let spaced = [
                format!(r"{sshpass}[ \t]+"),
                format!(r"(?:docker|podman|nerdctl|buildah|skopeo|oras|helm[ \t]+registry)[ \t]+login{args}(?:-p|--password)[ \t]+"),
                format!(r"mongo(?:sh|dump|restore|export|import|stat|top|files)?{args}(?:-p|--password)[ \t]+"),
                format!(r"{ldap}[ \t]+"),
                r"--pass(?:word|wd)?[ \t]+".to_owned(),
                format!(r"redis-cli{args}-a[ \t]+"),
            ];
            // Flags the value is written against (`-pPASSWORD`).
            let attached = [
                sshpass.to_owned(),
                format!(r"mysql[a-z]*{args}-p"),
                ldap,
                // curl's `-u user:password` with a user name too long for `generic_secret`'s
                // reach back from the `:` (an e-mail address).
                format!(r#"(?:^|[ \t])-u[ \t]+["']?[^\s:"'`,;{C}]{{13,64}}:"#, C = cjk()),
            ];
            let bare = format!(r#"["']?([^-\s"'`,;{C}][^\s"'`,;{C}]{{7,99}})"#, C = cjk());
            format!(
                r#"(?:{})(?:"([ !#-+\--9<>-_a-~]{{8,99}})"|'([ -&(-+\--9<>-_a-~]{{8,99}})'|{bare})|(?:{}){bare}"#,
                spaced.join("|"),
                attached.join("|"),
            )
        })
            .with_score(0.8).with_validator(Validator::Entropy).with_value_group(1)
            .with_trigger(lits(&["sshpass", "mysql", "login", "mongo", "ldap", "--pass", "redis-cli", "-u "]))
            // The tool's name before `login` (`helm registry `); after the trigger, a few
            // hundred bytes of arguments and the value.
            .with_trigger_reach(24, 512),
        // --- card, bank and crypto ---------------------------------------------------------
        Recognizer::new("credit_card", "CREDIT_CARD",
            r"[0-9]{13,19}|[0-9]{4}(?:[ .-][0-9]{4}){3}[ .-][0-9]{1,3}|[0-9]{4}[ .-][0-9]{4}[ .-][0-9]{4}[ .-][0-9]{1,4}|[0-9]{4}[ .-][0-9]{6}[ .-][0-9]{4,5}|[0-9](?:[ .-][0-9]){12,18}")
            .with_score(0.95).with_validator(Validator::CreditCard).with_boundary(Boundary::Token)
            .with_context(["card", "credit", "visa", "mastercard", "amex", "payment", "cc"])
            .with_trigger(digits()),
        Recognizer::new("iban", "IBAN_CODE",
            &format!(r"{B}[A-Z]{{2}}[0-9]{{2}}(?:[ ]?[A-Z0-9]{{4}}){{2,7}}(?:[ ]?[A-Z0-9]{{1,3}})?{B}"))
            .with_score(0.95).with_validator(Validator::Iban)
            .with_context(["iban", "bank", "account", "transfer"]).with_trigger(digits()),
        Recognizer::new("crypto", "CRYPTO",
            &format!(r"{B}(?:[13][1-9A-HJ-NP-Za-km-z]{{25,34}}|(?:bc1|BC1)[02-9ac-hj-np-zAC-HJ-NP-Z]{{11,71}}){B}"))
            .with_score(0.95).with_validator(Validator::Crypto)
            // Base58 addresses start with 1 or 3; bech32 ones hold the `1` of `bc1`.
            .with_context(["bitcoin", "btc", "wallet", "crypto"]).with_trigger(Trigger::Bytes(b"13".to_vec())),
        Recognizer::new("us_bank_number", "US_BANK_NUMBER", &format!(r"{B}[0-9]{{8,17}}{B}"))
            .with_score(0.4).with_context(["account", "acct", "bank", "checking", "savings"])
            .require_context().with_trigger(digits()),
        // --- government and health identifiers ---------------------------------------------
        Recognizer::new("us_ssn", "US_SSN", r"[0-9]{3}[ .-]?[0-9]{2}[ .-]?[0-9]{4}|[0-9](?:[ .-][0-9]){8}")
            .with_score(0.85).with_validator(Validator::UsSsn).with_boundary(Boundary::Token)
            .with_context(["ssn", "social security", "social"]).with_trigger(digits()),
        Recognizer::new("us_itin", "US_ITIN", r"9[0-9]{2}[ .-]?[0-9]{2}[ .-]?[0-9]{4}")
            .with_score(0.85).with_validator(Validator::UsItin).with_boundary(Boundary::Token)
            .with_context(["itin", "taxpayer", "tax id"]).with_trigger(digits()),
        Recognizer::new("us_passport", "US_PASSPORT", &format!(r"{B}[A-Z]?[0-9]{{8,9}}{B}"))
            .with_score(0.6).with_context(["passport"]).require_context().with_trigger(Trigger::Context),
        Recognizer::new("uk_nhs", "UK_NHS", r"[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{4}")
            .with_score(0.5).with_validator(Validator::UkNhs).with_boundary(Boundary::Token)
            .with_context(["nhs", "national health", "health service", "patient"]).with_trigger(digits()),
        Recognizer::new("us_npi", "US_NPI", r"[12][0-9]{9}")
            .with_score(0.45).with_validator(Validator::UsNpi).with_boundary(Boundary::Token)
            .with_context(["npi", "provider", "prescriber"]).with_trigger(digits()),
        // National identifiers, digits only, so they share the numeric group's windows: a
        // check digit (PESEL, Aadhaar) passes one number in ten, so context must raise it
        // (to 0.8, over a bank account number's 0.75 when both read the same label); a
        // NIR's key passes one in 97, after a sex digit and a month.
        Recognizer::new("pl_pesel", "PL_PESEL", r"[0-9]{11}")
            .with_score(0.45).with_validator(Validator::PlPesel).with_boundary(Boundary::Token)
            .with_context(["pesel"]).with_trigger(digits()),
        Recognizer::new("in_aadhaar", "IN_AADHAAR", r"[2-9][0-9]{3}[ -]?[0-9]{4}[ -]?[0-9]{4}")
            .with_score(0.45).with_validator(Validator::InAadhaar).with_boundary(Boundary::Token)
            .with_context(["aadhaar", "aadhar", "uidai"]).with_trigger(digits()),
        Recognizer::new("fr_nir", "FR_NIR",
            r"[12] ?[0-9]{2} ?(?:0[1-9]|1[0-2]) ?[0-9]{2} ?[0-9]{3} ?[0-9]{3} ?[0-9]{2}")
            .with_score(0.5).with_validator(Validator::FrNir).with_boundary(Boundary::Token)
            .with_context(["insee", "nir", "sécurité sociale", "securite sociale", "sécu"])
            .with_trigger(digits()),
        // National identifiers with capitals: their alphabets lie within IBAN's, so they
        // join its windows (runs of capitals, digits and spaces around a digit) instead of
        // opening their own. A check letter passes one in 23 (DNI, NIE) or 26 (codice
        // fiscale); a National Insurance number has only HMRC's prefix rules, so it needs
        // its context word.
        Recognizer::new("es_nif", "ES_NIF", r"[0-9]{8}[A-Z]")
            .with_score(0.5).with_validator(Validator::EsNif).with_boundary(Boundary::Token)
            .with_context(["dni", "nif", "documento", "identidad"]).with_trigger(digits()),
        Recognizer::new("es_nie", "ES_NIE", r"[XYZ][0-9]{7}[A-Z]")
            .with_score(0.6).with_validator(Validator::EsNie).with_boundary(Boundary::Token)
            .with_context(["nie", "extranjero", "extranjería", "extranjeria"]).with_trigger(digits()),
        // Written with dashes (`12345678-Z`, `X-1234567-L`, as Presidio reads them too), a
        // DNI with its thousands dotted too (`12.345.678-Z`, as printed on the card): a
        // dash is outside IBAN's alphabet, so these are triggered by the dash and tried in
        // windows of their own, runs of capitals, digits, dots and dashes around one, which
        // a hyphenated word or a date closes before they are long enough to try.
        Recognizer::new("es_nif_dashed", "ES_NIF", r"[0-9]{8}-[A-Z]|[0-9]{2}\.[0-9]{3}\.[0-9]{3}-[A-Z]")
            .with_score(0.5).with_validator(Validator::EsNif).with_boundary(Boundary::Token)
            .with_context(["dni", "nif", "documento", "identidad"])
            .with_trigger(Trigger::Bytes(b"-".to_vec())),
        Recognizer::new("es_nie_dashed", "ES_NIE", r"[XYZ]-?[0-9]{7}-[A-Z]|[XYZ]-[0-9]{7}[A-Z]")
            .with_score(0.6).with_validator(Validator::EsNie).with_boundary(Boundary::Token)
            .with_context(["nie", "extranjero", "extranjería", "extranjeria"])
            .with_trigger(Trigger::Bytes(b"-".to_vec())),
        Recognizer::new("it_fiscal_code", "IT_FISCAL_CODE",
            &format!("[A-Z]{{6}}{CF_D}{{2}}[ABCDEHLMPRST]{CF_D}{{2}}[A-Z]{CF_D}{{3}}[A-Z]"))
            .with_score(0.7).with_validator(Validator::ItFiscalCode).with_boundary(Boundary::Token)
            .with_context(["codice fiscale", "fiscale", "tax code"]).with_trigger(digits()),
        Recognizer::new("uk_nino", "UK_NINO", r"[A-Z]{2} ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]")
            .with_score(0.45).with_validator(Validator::UkNino).with_boundary(Boundary::Token)
            .with_context(["national insurance", "nino", "ni number", "ni no", "ni"])
            .with_trigger(digits()),
        // Eighteen characters whose last may be `X`, so its alphabet lies within IBAN's too;
        // of the numbers of its shape, a province (34 of 90), a real day and the MOD 11-2
        // check character (one in 11) pass about one in 30. One in ten is Luhn-valid too,
        // and some start as a card of 18 digits may (Jiangxi's 36, Xinjiang's 65, some of
        // Gansu's 622): those are not cards (`card::national_id`).
        Recognizer::new("cn_resident_id", "CN_RESIDENT_ID",
            r"[1-9][0-9]{5}(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9X]")
            .with_score(0.65).with_validator(Validator::CnResidentId).with_boundary(Boundary::Token)
            .with_context(["身份证", "身份證", "证件号", "公民身份", "resident id", "id card"])
            .with_trigger(digits()),
        // Thirteen digits, a birth date first: checked (issued before October 2020) and
        // written with its dash 0.85; since then the last six digits are random, so an
        // unchecked one scores 0.6; a bare one 0.2 less (an order number's or a barcode's
        // shape: a real date and the check pass about one random number in 340). A bare
        // checked one is no 13-digit Visa card (`card::national_id`).
        Recognizer::new("kr_rrn", "KR_RRN",
            r"[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])-?[1-8][0-9]{6}")
            .with_score(0.85).with_validator(Validator::KrRrn).with_boundary(Boundary::Token)
            .with_context(["주민", "외국인등록", "rrn", "resident registration"])
            .with_trigger(digits()),
        // Twelve digits and a check digit, which one random number in ten passes (an
        // Aadhaar number's shape too): under the threshold without its context word.
        // Not `require_context`, so its words do not join the trigger literals (Teddy's
        // budget, above).
        Recognizer::new("jp_my_number", "JP_MY_NUMBER", r"[0-9]{4}[ -]?[0-9]{4}[ -]?[0-9]{4}")
            .with_score(0.4).with_validator(Validator::JpMyNumber).with_boundary(Boundary::Token)
            .with_context(["マイナンバー", "個人番号", "my number", "mynumber", "individual number"])
            .with_trigger(digits()),
        // Both shapes are a product code's or a part number's too, and no byte of theirs
        // makes a cheap trigger: digits cost the clean prompt 17.5%, a letter and a dash
        // 7.5% (they widen the byte prefilter's range to every capital or full stop). They
        // are read near their context words only (+1.2%; docs/detection.md).
        Recognizer::new("us_dea", "MEDICAL_LICENSE", r"[ABCDEFGHJKLMPRSTUX][A-Z9][0-9]{7}")
            .with_score(0.8).with_validator(Validator::UsDea).with_boundary(Boundary::Token)
            .with_context(["dea"]).require_context().with_trigger(Trigger::Context),
        Recognizer::new("us_mbi", "US_MBI",
            &format!("[1-9]{MBI_L}{MBI_A}[0-9](?:-{MBI_L}{MBI_A}[0-9]-|{MBI_L}{MBI_A}[0-9]){MBI_L}{{2}}[0-9]{{2}}"))
            .with_score(0.8).with_validator(Validator::UsMbi).with_boundary(Boundary::Token)
            .with_context(["medicare", "mbi"]).require_context().with_trigger(Trigger::Context),
        // --- contact details ---------------------------------------------------------------
        Recognizer::new("email", "EMAIL_ADDRESS",
            &format!(r"[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{{2,24}}{B}"))
            .with_score(1.0).with_validator(Validator::Email).with_trigger(Trigger::Bytes(b"@".to_vec())),
        // The groups after an area code in parentheses are split any way; otherwise by
        // dashes, dots or spaces alike (`212-555-0143`, `212 555 0143`, also `212 555-0143`)
        // or not at all: `241967 1780` is an order number followed by a duration.
        Recognizer::new("phone_us", "PHONE_NUMBER",
            r"(?:\+?1[ .-]?)?(?:\([2-9][0-9]{2}\)[ ]?[2-9][0-9]{2}[ .-]?|[2-9][0-9]{2}(?:-[2-9][0-9]{2}-|\.[2-9][0-9]{2}\.|[ ][2-9][0-9]{2}[ -]|[2-9][0-9]{2}))[0-9]{4}")
            .with_score(0.6).with_validator(Validator::Phone).with_boundary(Boundary::Token)
            .with_context(phone_ctx).with_trigger(digits()),
        Recognizer::new("phone_intl", "PHONE_NUMBER", r"\+[1-9][0-9]{0,3}(?:[ .-]?\(?[0-9]{1,4}\)?){2,6}")
            .with_score(0.7).with_validator(Validator::Phone).with_boundary(Boundary::Token)
            .with_context(phone_ctx).with_trigger(digits()),
        Recognizer::new("phone_national", "PHONE_NUMBER", r"\(?0[1-9][0-9]{0,3}\)?(?:[ .-]?[0-9]{2,4}){2,4}")
            .with_score(0.4).with_validator(Validator::Phone).with_boundary(Boundary::Token)
            .with_context(phone_ctx).with_trigger(digits()),
        // A Chinese mobile number has no trunk 0: eleven digits from 13-19, written whole or
        // 3-4-4 (`138 0013 8000`, `138-0013-8000`). Grouped so it is found; whole (-0.2)
        // it is an order number's shape too, and found beside a context word (`手机`).
        Recognizer::new("phone_cn_mobile", "PHONE_NUMBER", r"1[3-9][0-9](?:[ -]?[0-9]{4}){2}")
            .with_score(0.6).with_validator(Validator::Phone).with_boundary(Boundary::Token)
            .with_context(phone_ctx).with_trigger(digits()),
        // Spanish mobile numbers (9 digits from 6 or 7: `612 345 678`, `612 34 56 78`),
        // written without the country code, as Spain has no trunk 0: an amount's or an
        // id's shape too, so found beside a context word only (`móvil`; `tel` reads
        // `teléfono`). Italian mobiles (`333 123 4567`) in the same pattern cost the
        // build 8% and scans 3.6-5.3% (callgrind, docs/performance.md); those whose
        // exchange starts 2-9 read as `phone_us`.
        Recognizer::new("phone_es_mobile", "PHONE_NUMBER",
            r"[67][0-9]{2}(?:[ ]?[0-9]{3}){2}|[67][0-9]{2}(?:[ ][0-9]{2}){3}")
            .with_score(0.4).with_validator(Validator::Phone).with_boundary(Boundary::Token)
            .with_context(phone_ctx).with_trigger(digits()),
        // --- network -----------------------------------------------------------------------
        Recognizer::new("ipv4", "IP_ADDRESS",
            r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])")
            .with_score(0.6).with_boundary(Boundary::Token)
            .with_context(["ip", "address", "server", "host"]).with_trigger(digits()),
        Recognizer::new("ipv6", "IP_ADDRESS",
            r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:(?:\.[0-9]{1,3}){3})?")
            .with_score(0.8).with_validator(Validator::Ipv6).with_boundary(Boundary::Address)
            .with_trigger(Trigger::Bytes(b":".to_vec())),
        Recognizer::new("mac", "MAC_ADDRESS",
            r"[0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}")
            .with_score(0.8).with_validator(Validator::Mac).with_boundary(Boundary::Address)
            .with_context(["mac", "ethernet", "hardware", "device"])
            .with_trigger(Trigger::Bytes(b":-.".to_vec())),
        Recognizer::new("url", "URL",
            &format!(r#"(?:https?|ftp)://[^\s<>"'`{{}}|\\^{C}]+|www\.[A-Za-z0-9-]+\.[^\s<>"'`{{}}|\\^{C}]+"#, C = cjk()))
            .with_score(0.5).with_trim_end(".,;:!?)]}'\"").with_context(["url", "link", "website"])
            .with_trigger(lits(&["://", "www."])),
    ]
}

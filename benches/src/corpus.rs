//! A labelled corpus generated deterministically from templates and generated values, with
//! hard negatives (Luhn-failing 16-digit numbers, never-issued SSN areas, UUIDs, git SHAs,
//! timestamps, order numbers, prices), and the precision/recall/F1 report over it.

use std::collections::BTreeMap;

use sentinel_detect::testgen::{self, Rng};
use sentinel_detect::Detector;

/// One labelled span: entity type and byte range.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Label {
    /// The entity type.
    pub entity: String,
    /// Byte offset of the start.
    pub start: usize,
    /// Byte offset of the end.
    pub end: usize,
}

/// A generated document and its labels.
#[derive(Clone, Debug)]
pub struct Doc {
    /// The text.
    pub text: String,
    /// Every sensitive value in it.
    pub labels: Vec<Label>,
}

fn bitcoin(rng: &mut Rng) -> String {
    let mut payload = vec![if rng.chance(0.5) { 0x00 } else { 0x05 }];
    payload.extend((0..20).map(|_| rng.below(256) as u8));
    bs58::encode(payload).with_check().into_string()
}

/// (entity, template, value) for one labelled sentence; `{}` marks the value.
fn positive(rng: &mut Rng) -> (&'static str, &'static str, String) {
    let pick = |rng: &mut Rng, t: &[&'static str]| *rng.pick(t);
    match rng.below(41) {
        0 | 1 => (
            "CREDIT_CARD",
            pick(
                rng,
                &[
                    "Please charge my card {} for the renewal.",
                    "Visa {} exp 09/27.",
                    "The payment card on file is {}.",
                ],
            ),
            testgen::card(rng),
        ),
        2 | 3 => {
            let template = pick(
                rng,
                &[
                    "Contact {} for details.",
                    "Send the invoice to {} today.",
                    "From: {}",
                    "GET /api/v2/users?email={}&page=2 returned 500.",
                    "<p>Write to <span>{}</span> for access.</p>",
                ],
            );
            let email = testgen::email(rng);
            // A URL's query writes the address percent-encoded; a page hides it from
            // scrapers behind character references.
            let email = if template.contains('?') {
                testgen::percent_encoded(&email)
            } else if template.starts_with('<') {
                email.replace('@', "&#64;").replace('.', "&period;")
            } else {
                email
            };
            ("EMAIL_ADDRESS", template, email)
        }
        4 => (
            "PHONE_NUMBER",
            pick(
                rng,
                &[
                    "Call me at {} tomorrow.",
                    "My phone number is {}.",
                    "Reach the desk on {}.",
                ],
            ),
            testgen::phone_us(rng),
        ),
        37 => (
            "PHONE_NUMBER",
            pick(
                rng,
                &["手机：{}", "联系方式 {} 王先生", "联系电话{}。", "Mobile (CN): {}"],
            ),
            testgen::phone_cn_mobile(rng),
        ),
        5 => {
            let template = pick(
                rng,
                &[
                    "Mobile: {}",
                    "Our office line is {}.",
                    "Call {} after nine.",
                    "The callback POST /dial?to={} timed out.",
                ],
            );
            let phone = testgen::phone_intl(rng);
            let phone = match template.contains('?') {
                true => testgen::percent_encoded(&phone),
                false => phone,
            };
            ("PHONE_NUMBER", template, phone)
        }
        6 | 7 => (
            "US_SSN",
            pick(
                rng,
                &[
                    "SSN: {}",
                    "My social security number is {}.",
                    "Employee SSN {} on the W-2.",
                ],
            ),
            testgen::ssn(rng),
        ),
        8 => (
            "US_ITIN",
            pick(rng, &["ITIN {} on the W-7.", "Taxpayer ITIN: {}"]),
            testgen::itin(rng),
        ),
        9 | 10 => (
            "IBAN_CODE",
            pick(
                rng,
                &[
                    "Transfer to IBAN {} please.",
                    "Beneficiary account {}.",
                    "Pay into {} by Friday.",
                ],
            ),
            testgen::iban(rng),
        ),
        11 => (
            "IP_ADDRESS",
            pick(
                rng,
                &[
                    "The host {} refused the connection.",
                    "Login from IP {} was blocked.",
                ],
            ),
            testgen::ipv4(rng),
        ),
        12 => (
            "IP_ADDRESS",
            pick(
                rng,
                &[
                    "The server address {} is unreachable.",
                    "Route {} via the gateway.",
                ],
            ),
            testgen::ipv6(rng),
        ),
        13 => (
            "MAC_ADDRESS",
            pick(rng, &["Device MAC {} registered.", "The NIC {} is down."]),
            testgen::mac(rng),
        ),
        14 => (
            "UK_NHS",
            pick(
                rng,
                &["NHS number {} for the referral.", "Patient NHS no. {}"],
            ),
            testgen::nhs(rng),
        ),
        15 => (
            "US_NPI",
            pick(rng, &["Prescriber NPI {} signed.", "Provider NPI: {}"]),
            testgen::npi(rng),
        ),
        16 => (
            "US_PASSPORT",
            pick(rng, &["My passport number is {}.", "Passport: {}"]),
            {
                let n = rng.digits(8);
                format!("{}{n}", rng.range(1, 9))
            },
        ),
        17 => (
            "US_BANK_NUMBER",
            pick(
                rng,
                &["Deposit into bank account {}.", "Checking account no. {}"],
            ),
            rng.digits(12),
        ),
        18 => (
            "CRYPTO",
            pick(rng, &["Send BTC to {} now.", "Wallet: {}"]),
            bitcoin(rng),
        ),
        19 => (
            "AWS_ACCESS_KEY",
            pick(
                rng,
                &["export AWS_ACCESS_KEY_ID={}", "The key {} was leaked."],
            ),
            testgen::aws_access_key(rng),
        ),
        20 => (
            "AWS_SECRET_KEY",
            pick(rng, &["aws_secret_access_key = {}", "AWS secret: {}"]),
            testgen::aws_secret_key(rng),
        ),
        21 => (
            "GITHUB_TOKEN",
            pick(rng, &["token: {}", "git clone with {} as password"]),
            testgen::github_token(rng),
        ),
        22 => match rng.below(12) {
            4 => (
                "GITLAB_TOKEN",
                "GITLAB_TOKEN={}",
                testgen::gitlab_token(rng),
            ),
            5 => ("NPM_TOKEN", "//registry.npmjs.org/:_authToken={}", testgen::npm_token(rng)),
            6 => ("PYPI_TOKEN", "password = {}", testgen::pypi_token(rng)),
            7 => (
                "HUGGINGFACE_TOKEN",
                "huggingface-cli login --token {}",
                testgen::huggingface_token(rng),
            ),
            8 => ("SENDGRID_KEY", "SENDGRID_API_KEY='{}'", testgen::sendgrid_key(rng)),
            9 => (
                "DIGITALOCEAN_TOKEN",
                "doctl auth init -t {}",
                testgen::digitalocean_token(rng),
            ),
            10 => (
                "AZURE_KEY",
                "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={};EndpointSuffix=core.windows.net",
                testgen::azure_storage_key(rng),
            ),
            11 => (
                "CONNECTION_STRING",
                pick(rng, &["DATABASE_URL={}", "Connect with {} and retry."]),
                testgen::connection_string(rng),
            ),
            0 => (
                "OPENAI_API_KEY",
                "OPENAI_API_KEY={}",
                testgen::openai_key(rng),
            ),
            1 => (
                "ANTHROPIC_API_KEY",
                "Use the key {} for Claude.",
                testgen::anthropic_key(rng),
            ),
            2 => (
                "SLACK_TOKEN",
                "Bot token {} posts alerts.",
                testgen::slack_token(rng),
            ),
            _ => (
                "STRIPE_KEY",
                "Stripe secret {} in prod.",
                testgen::stripe_key(rng),
            ),
        },
        23 => (
            "GOOGLE_API_KEY",
            "Maps key {} is restricted.",
            testgen::google_key(rng),
        ),
        24 => ("JWT", "Authorization: Bearer {}", testgen::jwt(rng)),
        25 => (
            "PRIVATE_KEY",
            "Here is the key:\n{}\n",
            testgen::private_key(rng),
        ),
        26 => (
            "MEDICAL_LICENSE",
            pick(
                rng,
                &[
                    "Prescriber DEA number {} on the script.",
                    "DEA: {}",
                    "Verify the DEA registration {} before dispensing.",
                ],
            ),
            testgen::dea(rng),
        ),
        27 => (
            "US_MBI",
            pick(
                rng,
                &[
                    "Medicare MBI {} for the claim.",
                    "Beneficiary's Medicare number: {}",
                    "MBI {} was verified.",
                ],
            ),
            testgen::mbi(rng),
        ),
        28 => (
            "PL_PESEL",
            pick(rng, &["Numer PESEL: {}", "PESEL {} in the HR file."]),
            testgen::pesel(rng),
        ),
        29 => (
            "IN_AADHAAR",
            pick(
                rng,
                &["Aadhaar number {} was linked.", "UIDAI Aadhaar: {}"],
            ),
            testgen::aadhaar(rng),
        ),
        30 => (
            "FR_NIR",
            pick(
                rng,
                &[
                    "Numéro de sécurité sociale : {}",
                    "NIR {} on the form.",
                    "The employee's INSEE number is {}.",
                ],
            ),
            testgen::nir(rng),
        ),
        31 => (
            "ES_NIF",
            pick(
                rng,
                &["DNI: {}", "Cliente con NIF {} dado de alta.", "Titular {}, Madrid"],
            ),
            testgen::es_nif(rng),
        ),
        32 => (
            "ES_NIE",
            pick(rng, &["NIE {} del solicitante.", "Número de extranjero: {}"]),
            testgen::es_nie(rng),
        ),
        33 => (
            "IT_FISCAL_CODE",
            pick(
                rng,
                &["Codice fiscale: {}", "C.F. {} del cliente.", "Intestatario {}"],
            ),
            testgen::it_fiscal_code(rng),
        ),
        34 => (
            "UK_NINO",
            pick(
                rng,
                &[
                    "National Insurance number {} on the payslip.",
                    "NI number: {}",
                    "NINO {} was checked.",
                ],
            ),
            testgen::uk_nino(rng),
        ),
        35 => (
            "CN_RESIDENT_ID",
            pick(
                rng,
                &[
                    "身份证号码：{}",
                    "公民身份号码 {} 已核实。",
                    "Resident ID {} on file.",
                    "客户{}的资料",
                ],
            ),
            testgen::cn_resident_id(rng),
        ),
        36 => (
            "KR_RRN",
            pick(
                rng,
                &[
                    "주민등록번호: {}",
                    "고객 {} 확인 완료",
                    "RRN {} on file.",
                    "외국인등록번호 {}입니다",
                ],
            ),
            testgen::kr_rrn(rng),
        ),
        38 => (
            "JP_MY_NUMBER",
            pick(
                rng,
                &[
                    "マイナンバー：{}",
                    "個人番号 {} を確認しました。",
                    "My Number {} on file.",
                    "マイナンバーは{}です",
                ],
            ),
            testgen::jp_my_number(rng),
        ),
        39 => (
            "PHONE_NUMBER",
            pick(
                rng,
                &["Mi móvil: {}", "Llámame al móvil {} mañana.", "Teléfono {}"],
            ),
            testgen::phone_es_mobile(rng),
        ),
        _ if rng.chance(0.2) => (
            "GENERIC_SECRET",
            pick(
                rng,
                &[
                    "password: \"{}\"",
                    "DB_PASSWORD='{}'",
                    "{\"user\": \"ci\", \"password\": \"{}\"}",
                    "mysql -u ci --password '{}' shop",
                ],
            ),
            testgen::passphrase(rng),
        ),
        _ => (
            "GENERIC_SECRET",
            pick(
                rng,
                &[
                    "db_password={}",
                    "api_key: \"{}\"",
                    "PASSWORD = '{}'",
                    "-H \"Authorization: Bearer {}\"",
                    "sshpass -p '{}' ssh deploy@web1",
                    "mysql -u app -p{} shop",
                    "docker login -u ci --password {} registry.example.com",
                    "export SMTP_PASS={}",
                    "redis-cli -h cache -a {} ping",
                    "curl -s -u svc-reporting-prod:{} -X GET",
                ],
            ),
            testgen::password(rng),
        ),
    }
}

/// A sentence with no sensitive value that looks like one: the hard negatives.
fn hard_negative(rng: &mut Rng) -> String {
    match rng.below(12) {
        0 => format!("Order {} shipped.", testgen::card_bad_luhn(rng)),
        1 => format!("Reference {} is not an SSN.", testgen::ssn_bad_area(rng)),
        2 => {
            let h = |rng: &mut Rng, n| rng.string(b"0123456789abcdef", n);
            format!(
                "Request {}-{}-4{}-a{}-{} took 35 ms.",
                h(rng, 8),
                h(rng, 4),
                h(rng, 3),
                h(rng, 3),
                h(rng, 12)
            )
        }
        3 => format!(
            "Commit {} fixed the build.",
            rng.string(b"0123456789abcdef", 40)
        ),
        4 => format!(
            "Logged at {} (unix time).",
            rng.range(1_600_000_000, 1_799_999_999)
        ),
        5 => format!(
            "Created 2024-{:02}-{:02}T{:02}:{:02}:{:02}Z.",
            rng.range(1, 12),
            rng.range(1, 28),
            rng.below(24),
            rng.below(60),
            rng.below(60)
        ),
        6 => format!(
            "Order ORD-{}-{:06} confirmed.",
            rng.range(2019, 2025),
            rng.below(1_000_000)
        ),
        7 => format!(
            "Total ${},{:03}.{:02} due.",
            rng.range(1, 99),
            rng.below(1000),
            rng.below(100)
        ),
        8 => format!("Tracking number {} in transit.", rng.digits(12)),
        9 => format!(
            "Version {}.{}.{} released.",
            rng.below(10),
            rng.below(30),
            rng.below(100)
        ),
        10 => format!("Invoice {} paid.", rng.digits(9)),
        _ => crate::texts::harmless_number(rng),
    }
}

/// `n` documents from `seed`.
pub fn generate(seed: u64, n: usize) -> Vec<Doc> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            let mut text = String::new();
            let mut labels = Vec::new();
            for _ in 0..rng.range(3, 7) {
                match rng.below(3) {
                    0 => {
                        let (entity, template, value) = positive(&mut rng);
                        let (before, after) = template.split_once("{}").unwrap_or((template, ""));
                        text.push_str(before);
                        let start = text.len();
                        text.push_str(&value);
                        labels.push(Label {
                            entity: entity.to_owned(),
                            start,
                            end: text.len(),
                        });
                        text.push_str(after);
                    }
                    1 => text.push_str(&hard_negative(&mut rng)),
                    _ => text.push_str(&crate::texts::prose(rng.next_u64(), 60)),
                }
                text.push(' ');
            }
            Doc { text, labels }
        })
        .collect()
}

/// Counts for one entity type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Found with the right type and exact span.
    pub tp: usize,
    /// Reported but not labelled (or wrong span or type).
    pub fp: usize,
    /// Labelled but not reported exactly.
    pub r#fn: usize,
}

impl Counts {
    /// Precision.
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    /// Recall.
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.r#fn)
    }
    /// F1.
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

/// Scores `detector` over `docs`: exact type and span count as a hit.
pub fn evaluate(detector: &dyn Detector, docs: &[Doc]) -> BTreeMap<String, Counts> {
    let mut by: BTreeMap<String, Counts> = BTreeMap::new();
    for d in docs {
        let found: Vec<Label> = detector
            .scan(&d.text)
            .into_iter()
            .map(|f| Label {
                entity: f.entity.to_string(),
                start: f.start,
                end: f.end,
            })
            .collect();
        for l in &d.labels {
            let c = by.entry(l.entity.clone()).or_default();
            if found.contains(l) {
                c.tp += 1;
            } else {
                c.r#fn += 1;
            }
        }
        for f in &found {
            if !d.labels.contains(f) {
                by.entry(f.entity.clone()).or_default().fp += 1;
            }
        }
    }
    by
}

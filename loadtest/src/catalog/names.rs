//! The generated catalog's ingredients: real-looking cities (accents,
//! Cyrillic, Greek, CJK, Hangul) with their time zones and positions,
//! performer names from several scripts, venue kinds, tours and festivals,
//! and a Zipf sampler for performer popularity.

use rand::rngs::StdRng;
use rand::Rng;
use std::collections::HashSet;

/// name, country, time zone, lat, lon, weight (rough size).
pub const CITIES: &[(&str, &str, &str, f64, f64, u32)] = &[
    ("Berlin", "DE", "Europe/Berlin", 52.52, 13.40, 30),
    ("Hamburg", "DE", "Europe/Berlin", 53.55, 9.99, 15),
    ("München", "DE", "Europe/Berlin", 48.14, 11.58, 15),
    ("Köln", "DE", "Europe/Berlin", 50.94, 6.96, 12),
    ("Düsseldorf", "DE", "Europe/Berlin", 51.23, 6.78, 8),
    ("Leipzig", "DE", "Europe/Berlin", 51.34, 12.37, 6),
    ("London", "GB", "Europe/London", 51.51, -0.13, 40),
    ("Manchester", "GB", "Europe/London", 53.48, -2.24, 10),
    ("Glasgow", "GB", "Europe/London", 55.86, -4.25, 8),
    ("Paris", "FR", "Europe/Paris", 48.86, 2.35, 35),
    ("Lyon", "FR", "Europe/Paris", 45.76, 4.84, 8),
    ("Montréal", "CA", "America/Toronto", 45.50, -73.57, 10),
    ("Zürich", "CH", "Europe/Zurich", 47.37, 8.54, 8),
    ("Genève", "CH", "Europe/Zurich", 46.20, 6.14, 5),
    ("Wien", "AT", "Europe/Vienna", 48.21, 16.37, 12),
    ("Praha", "CZ", "Europe/Prague", 50.08, 14.44, 10),
    ("Kraków", "PL", "Europe/Warsaw", 50.06, 19.94, 8),
    ("Łódź", "PL", "Europe/Warsaw", 51.76, 19.46, 5),
    ("Warszawa", "PL", "Europe/Warsaw", 52.23, 21.01, 12),
    ("København", "DK", "Europe/Copenhagen", 55.68, 12.57, 10),
    ("Malmö", "SE", "Europe/Stockholm", 55.60, 13.00, 5),
    ("Göteborg", "SE", "Europe/Stockholm", 57.71, 11.97, 6),
    ("Stockholm", "SE", "Europe/Stockholm", 59.33, 18.07, 12),
    ("Oslo", "NO", "Europe/Oslo", 59.91, 10.75, 8),
    ("Reykjavík", "IS", "Atlantic/Reykjavik", 64.15, -21.94, 3),
    ("Amsterdam", "NL", "Europe/Amsterdam", 52.37, 4.90, 15),
    ("Bruxelles", "BE", "Europe/Brussels", 50.85, 4.35, 10),
    ("Madrid", "ES", "Europe/Madrid", 40.42, -3.70, 20),
    ("Barcelona", "ES", "Europe/Madrid", 41.39, 2.17, 20),
    ("Sevilla", "ES", "Europe/Madrid", 37.39, -5.98, 6),
    ("Málaga", "ES", "Europe/Madrid", 36.72, -4.42, 5),
    ("Lisboa", "PT", "Europe/Lisbon", 38.72, -9.14, 10),
    ("Roma", "IT", "Europe/Rome", 41.90, 12.50, 18),
    ("Milano", "IT", "Europe/Rome", 45.46, 9.19, 18),
    ("Napoli", "IT", "Europe/Rome", 40.85, 14.27, 8),
    ("Αθήνα", "GR", "Europe/Athens", 37.98, 23.73, 10),
    ("İstanbul", "TR", "Europe/Istanbul", 41.01, 28.98, 20),
    ("Москва", "RU", "Europe/Moscow", 55.76, 37.62, 25),
    ("Санкт-Петербург", "RU", "Europe/Moscow", 59.94, 30.31, 12),
    ("Київ", "UA", "Europe/Kyiv", 50.45, 30.52, 10),
    ("New York", "US", "America/New_York", 40.71, -74.01, 40),
    (
        "Los Angeles",
        "US",
        "America/Los_Angeles",
        34.05,
        -118.24,
        30,
    ),
    ("Chicago", "US", "America/Chicago", 41.88, -87.63, 20),
    ("Austin", "US", "America/Chicago", 30.27, -97.74, 10),
    ("Nashville", "US", "America/Chicago", 36.16, -86.78, 10),
    ("México", "MX", "America/Mexico_City", 19.43, -99.13, 20),
    ("Bogotá", "CO", "America/Bogota", 4.71, -74.07, 10),
    ("São Paulo", "BR", "America/Sao_Paulo", -23.55, -46.63, 25),
    (
        "Buenos Aires",
        "AR",
        "America/Argentina/Buenos_Aires",
        -34.60,
        -58.38,
        15,
    ),
    ("東京", "JP", "Asia/Tokyo", 35.68, 139.69, 35),
    ("大阪", "JP", "Asia/Tokyo", 34.69, 135.50, 15),
    ("서울", "KR", "Asia/Seoul", 37.57, 126.98, 25),
    ("Sydney", "AU", "Australia/Sydney", -33.87, 151.21, 15),
    ("Melbourne", "AU", "Australia/Melbourne", -37.81, 144.96, 12),
];

pub const FIRST: &[&str] = &[
    "Taylor",
    "Anna",
    "Björn",
    "Chloé",
    "Diego",
    "Élodie",
    "Fatima",
    "Günther",
    "Hana",
    "Ivan",
    "José",
    "Kai",
    "Léa",
    "Mateo",
    "Nina",
    "Óscar",
    "Paula",
    "Quinn",
    "Renée",
    "Søren",
    "Tomás",
    "Ulla",
    "Valentina",
    "Wojciech",
    "Ximena",
    "Yusuf",
    "Zoë",
    "Amélie",
    "Bruno",
    "Carmen",
    "Dmitri",
    "Emma",
    "Frida",
    "Gabriel",
    "Helene",
    "Inés",
    "Jonas",
    "Katarzyna",
    "Lukas",
    "Marta",
    "Noah",
    "Olivia",
    "Pierre",
    "Rosa",
    "Sofia",
    "Tyler",
    "Ulrich",
    "Vera",
    "William",
    "Yara",
    "Åsa",
    "Jürgen",
    "Françoise",
    "Mikołaj",
    "Zoltán",
    "Ana",
    "Billie",
    "Ed",
    "Dua",
    "Peter",
];

pub const SYLLABLES: &[&str] = &[
    "ba", "ber", "chi", "dan", "el", "fer", "gar", "hol", "in", "jo", "kai", "lin", "mar", "nor",
    "ol", "pen", "quin", "ros", "sal", "tor", "ul", "van", "wes", "xan", "yor", "zel", "mü", "sé",
    "lá", "ñe", "rø", "kö", "gå", "će", "ža", "ste", "win", "ton", "berg", "son",
];

pub const NON_LATIN: &[&str] = &[
    "Кино",
    "Звери",
    "Сплин",
    "Мумий",
    "Ночные",
    "宇多田",
    "米津",
    "椎名",
    "星野",
    "あいみょん",
    "방탄",
    "블랙",
    "아이유",
    "Αλκίνοος",
    "Χαρούλα",
    "Σαββόπουλος",
];

pub const BAND_WORDS: &[&str] = &[
    "Arctic", "Velvet", "Electric", "Midnight", "Crimson", "Silver", "Golden", "Wild", "Northern",
    "Lonely", "Neon", "Paper", "Black", "Blue", "Iron", "Glass", "Fox", "Wolves", "Monkeys",
    "Lights", "Kings", "Rivers", "Hearts", "Ghosts", "Tigers", "Dreams",
];

pub const GENRES: &[&str] = &[
    "Pop",
    "Rock",
    "Jazz",
    "Classical",
    "Electronic",
    "Hip-hop",
    "R&B",
    "Metal",
    "Folk",
    "Country",
    "Latin",
    "Indie",
    "Punk",
    "Schlager",
    "K-Pop",
    "J-Pop",
    "Opera",
    "Comedy",
];

pub const VENUE_KINDS: &[&str] = &[
    "Arena",
    "Stadthalle",
    "Theater",
    "Club",
    "Hall",
    "Palais",
    "Teatro",
    "Stadium",
    "Amphitheatre",
    "Music Hall",
    "Konzerthaus",
    "Salle",
    "Dome",
    "Garden",
    "Kino",
    "Loft",
];

pub const TOURS: &[&str] = &[
    "World Tour",
    "Live",
    "Unplugged",
    "Anniversary Tour",
    "Greatest Hits",
    "In Concert",
    "Acoustic Night",
    "Farewell Tour",
    "Summer Tour",
    "Winter Tour",
];

pub const FESTIVALS: &[&str] = &[
    "Festival",
    "Calling",
    "Open Air",
    "Jazz Days",
    "Music Week",
    "Nights",
    "Fest",
];

pub fn syllable_name(rng: &mut StdRng) -> String {
    let n = rng.gen_range(2..=3);
    let mut s: String = (0..n)
        .map(|_| SYLLABLES[rng.gen_range(0..SYLLABLES.len())])
        .collect();
    if let Some(first) = s.chars().next() {
        let upper: String = first.to_uppercase().collect();
        s = upper + &s[first.len_utf8()..];
    }
    s
}

/// Distinct performer names, most popular first.
pub fn performers(rng: &mut StdRng, n: usize) -> Vec<String> {
    let mut seen = HashSet::with_capacity(n);
    let mut out = Vec::with_capacity(n);
    // A few famous ones on top (the typo queries aim at them).
    for famous in [
        "Taylor Swift",
        "Beyoncé",
        "Björk",
        "Ed Sheeran",
        "Dua Lipa",
        "Billie Eilish",
        "Céline Dion",
        "Måneskin",
        "Rosalía",
        "Mötley Crüe",
    ] {
        seen.insert(famous.to_string());
        out.push(famous.to_string());
    }
    while out.len() < n {
        let name = match rng.gen_range(0..100) {
            0..=59 => format!(
                "{} {}",
                FIRST[rng.gen_range(0..FIRST.len())],
                syllable_name(rng)
            ),
            60..=79 => format!(
                "The {} {}",
                BAND_WORDS[rng.gen_range(0..BAND_WORDS.len())],
                syllable_name(rng)
            ),
            80..=89 => format!(
                "{} {}",
                NON_LATIN[rng.gen_range(0..NON_LATIN.len())],
                rng.gen_range(1..2000)
            ),
            _ => format!("DJ {}{}", syllable_name(rng), rng.gen_range(1..100)),
        };
        if seen.insert(name.clone()) {
            out.push(name);
        }
    }
    out
}

/// Zipf sampler over ranks 0..n by inverse CDF on the cumulative weights.
pub struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    pub fn new(n: usize, s: f64) -> Self {
        let mut total = 0.0;
        let cumulative = (1..=n)
            .map(|k| {
                total += 1.0 / (k as f64).powf(s);
                total
            })
            .collect();
        Self { cumulative }
    }

    pub fn sample(&self, rng: &mut StdRng) -> usize {
        let total = *self.cumulative.last().unwrap_or(&1.0);
        let x = rng.gen::<f64>() * total;
        self.cumulative.partition_point(|&c| c < x)
    }
}

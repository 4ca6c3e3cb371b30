"""Sample tickets the project writes itself (seven languages, four levels), for the shipped default
model. Templates with varied systems, times and wording; deterministic for a given seed."""

import csv
import random
import re
from pathlib import Path

SYSTEMS = [
    "ERP",
    "CRM",
    "web shop",
    "API",
    "portal",
    "database",
    "mail server",
    "VPN",
    "payroll",
    "warehouse system",
    "billing",
    "reporting",
    "SSO",
    "file server",
    "mobile app",
]

# level -> list of (subject, description) per language; {s} is a system, {n} a number, {t} a time
T = {
    "en": {
        1: [
            (
                "{s} down in production",
                "Since {t} nobody can use the {s}. All users are affected and our business has stopped. Urgent!",
            ),
            ("Production outage: {s} unreachable", "The {s} is completely unavailable for all customers, we are losing orders."),
            ("Data loss in {s}", "After the update data in the production {s} is missing, {n} records were lost."),
            ("Security breach on {s}", "We see unauthorized access to the {s} and data being exported. Please call immediately."),
        ],
        2: [
            (
                "{s} intermittently failing",
                "About {n}% of requests to the {s} fail since {t}. Most still work but work is restricted.",
            ),
            ("Some users cannot log in to {s}", "Part of our staff cannot sign in to the {s} in production, the rest works."),
            ("{s} keeps disconnecting", "The {s} drops every few minutes; we can still work but it is disrupting us badly."),
        ],
        3: [
            ("{s} slow", "The {s} takes {n} seconds to load a page. Everything else is fine."),
            ("Error when saving in {s}", "Saving a record in the {s} shows an error message. A workaround exists."),
            ("Test environment {s} down", "Our staging {s} is unreachable since {t}. Production is not affected."),
        ],
        4: [
            (
                "How do I configure {s}?",
                "Could you tell me how to set up notifications in the {s}? I could not find it in the documentation.",
            ),
            ("Question about {s} licences", "We would like to know whether we can add {n} more users to the {s}."),
            ("Feature request for {s}", "It would be nice if the {s} could export to Excel. Just a suggestion."),
        ],
    },
    "de": {
        1: [
            (
                "{s} in der Produktion ausgefallen",
                "Seit {t} ist das {s} komplett nicht erreichbar, niemand kann arbeiten. Bitte sofort helfen!",
            ),
            ("Totalausfall {s}", "Das {s} ist für alle Kunden nicht verfügbar, wir verlieren Umsatz."),
            ("Datenverlust im {s}", "Nach dem Update sind im Produktivsystem {n} Datensätze verloren gegangen."),
        ],
        2: [
            (
                "{s} zeitweise gestört",
                "Das {s} ist seit {t} zeitweise unterbrochen, die Arbeit geht weiter, aber stark eingeschränkt.",
            ),
            ("Teilweise Fehler im {s}", "Etwa jeder zweite Auftrag im {s} bleibt hängen, in der Produktion."),
        ],
        3: [
            ("{s} langsam", "Das {s} braucht {n} Sekunden zum Laden. Sonst funktioniert alles."),
            ("Fehlermeldung im {s}", "Beim Speichern im {s} erscheint eine Fehlermeldung."),
            ("Testumgebung {s} nicht erreichbar", "Unsere Testumgebung ist seit {t} nicht erreichbar, die Produktion läuft."),
        ],
        4: [
            ("Frage zum {s}", "Wie kann ich im {s} Benachrichtigungen einrichten? Vielen Dank."),
            ("Lizenzfrage {s}", "Können wir {n} weitere Benutzer zum {s} hinzufügen?"),
            ("Vorschlag für {s}", "Es wäre schön, wenn das {s} nach Excel exportieren könnte."),
        ],
    },
    "ru": {
        1: [
            ("Не работает {s}", "С {t} {s} полностью недоступен, все пользователи не могут работать. Срочно!"),
            ("Авария {s} в продуктиве", "Упал {s}, все клиенты видят ошибку, продажи стоят."),
            ("Потеря данных в {s}", "После обновления пропали данные в рабочей базе {s}, {n} записей."),
        ],
        2: [
            ("Сбои в работе {s}", "{s} работает с перебоями с {t}, часть запросов не проходит, работать можно, но тяжело."),
            (
                "У части пользователей не открывается {s}",
                "В продуктиве у части пользователей {s} не открывается, остальные работают.",
            ),
        ],
        3: [
            ("Медленно работает {s}", "{s} открывает отчеты {n} секунд. В остальном всё работает."),
            ("Ошибка в {s}", "При сохранении в {s} появляется сообщение об ошибке."),
            ("Не работает тестовый {s}", "Тестовая среда {s} недоступна с {t}, продуктив работает."),
        ],
        4: [
            ("Вопрос по {s}", "Подскажите, пожалуйста, как настроить уведомления в {s}?"),
            ("Консультация по лицензиям {s}", "Хотели бы уточнить, можно ли добавить {n} пользователей в {s}."),
            ("Предложение по {s}", "Было бы удобно, если бы {s} выгружал данные в Excel."),
        ],
    },
    "cs": {
        1: [
            ("Výpadek {s} v produkci", "Od {t} je {s} úplně nedostupný, nikdo nemůže pracovat. Prosíme o okamžité řešení!"),
            ("Nefunguje {s}", "{s} je mimo provoz pro všechny zákazníky, přicházíme o tržby."),
            ("Ztráta dat v {s}", "Po aktualizaci jsme přišli o data v produkční databázi {s}, chybí {n} záznamů."),
        ],
        2: [
            ("Občasné výpadky {s}", "{s} má od {t} krátkodobé výpadky, většinou funguje, ale práce je výrazně omezená."),
            ("Částečně nefunkční {s}", "V produkci nejde část operací v {s}, ostatní funguje."),
        ],
        3: [
            ("Pomalý {s}", "{s} načítá stránku {n} sekund. Jinak vše funguje."),
            ("Chyba v {s}", "Při ukládání v {s} se zobrazí chybové hlášení."),
            ("Testovací {s} nefunguje", "Naše testovací prostředí {s} je od {t} nedostupné, produkce běží."),
        ],
        4: [
            ("Dotaz k {s}", "Dobrý den, jak mohu v {s} nastavit upozornění? Děkuji."),
            ("Dotaz na licence {s}", "Chtěli bychom se zeptat, zda je možné přidat {n} uživatelů do {s}."),
            ("Návrh na zlepšení {s}", "Bylo by dobré, kdyby {s} uměl export do Excelu."),
        ],
    },
    "id": {
        1: [
            (
                "{s} produksi mati",
                "Sejak {t} {s} tidak bisa diakses sama sekali, semua pengguna tidak dapat bekerja. Mohon segera!",
            ),
            ("{s} down total", "{s} tidak dapat diakses oleh semua pelanggan, transaksi gagal semua."),
            ("Data hilang di {s}", "Setelah pembaruan, {n} data di database produksi {s} hilang."),
        ],
        2: [
            ("{s} sering terputus", "{s} sering terputus sejak {t}, sebagian besar masih jalan tapi pekerjaan terhambat."),
            (
                "Sebagian pengguna tidak bisa login ke {s}",
                "Di produksi sebagian karyawan tidak bisa masuk ke {s}, yang lain normal.",
            ),
        ],
        3: [
            ("{s} lambat", "{s} butuh {n} detik untuk membuka halaman. Fitur lain normal."),
            ("Muncul error di {s}", "Saat menyimpan di {s} muncul pesan error."),
            ("Server testing {s} tidak bisa diakses", "Lingkungan testing {s} tidak bisa diakses sejak {t}, produksi normal."),
        ],
        4: [
            ("Pertanyaan tentang {s}", "Bagaimana cara mengatur notifikasi di {s}? Terima kasih."),
            ("Informasi lisensi {s}", "Kami ingin bertanya apakah bisa menambah {n} pengguna ke {s}."),
            ("Usulan fitur {s}", "Akan lebih baik jika {s} bisa ekspor ke Excel."),
        ],
    },
    "pl": {
        1: [
            ("Awaria {s} na produkcji", "Od {t} {s} jest całkowicie niedostępny, nikt nie może pracować. Prosimy o pilną pomoc!"),
            ("{s} nie działa", "{s} nie działa dla wszystkich klientów, sprzedaż stoi."),
            ("Utrata danych w {s}", "Po aktualizacji utraciliśmy {n} rekordów w produkcyjnej bazie {s}."),
        ],
        2: [
            ("Przerwy w działaniu {s}", "{s} od {t} działa z przerwami, da się pracować, ale procesy są utrudnione."),
            ("Częściowo nie działa {s}", "Na produkcji część operacji w {s} nie działa, reszta działa normalnie."),
        ],
        3: [
            ("Wolne działanie {s}", "{s} ładuje stronę {n} sekund. Poza tym wszystko działa."),
            ("Błąd w {s}", "Przy zapisie w {s} pojawia się komunikat o błędzie."),
            ("Środowisko testowe {s} nie działa", "Nasze środowisko testowe {s} jest niedostępne od {t}, produkcja działa."),
        ],
        4: [
            ("Pytanie o {s}", "Dzień dobry, jak skonfigurować powiadomienia w {s}? Dziękuję."),
            ("Pytanie o licencje {s}", "Chcielibyśmy zapytać, czy można dodać {n} użytkowników do {s}."),
            ("Propozycja dla {s}", "Byłoby dobrze, gdyby {s} eksportował dane do Excela."),
        ],
    },
    "da": {
        1: [
            ("{s} er nede i produktion", "Siden {t} har {s} været helt nede, ingen kan arbejde. Haster meget!"),
            ("{s} virker ikke", "{s} er utilgængelig for alle vores kunder, og vi mister salg."),
            ("Datatab i {s}", "Efter opdateringen er {n} poster i produktionsdatabasen for {s} gået tabt."),
        ],
        2: [
            (
                "Periodiske afbrydelser i {s}",
                "{s} falder ud flere gange om dagen siden {t}, vi kan arbejde, men det generer os meget.",
            ),
            ("{s} virker delvist", "I produktionen fejler en del af {s}, resten fungerer normalt."),
        ],
        3: [
            ("Langsom {s}", "{s} tager {n} sekunder at åbne en side. Resten virker fint."),
            ("Fejl i {s}", "Når jeg gemmer i {s}, kommer der en fejlmeddelelse."),
            ("Testmiljøet {s} er nede", "Vores testmiljø for {s} har været nede siden {t}. Produktionen kører."),
        ],
        4: [
            ("Spørgsmål om {s}", "Hej, hvordan opsætter jeg notifikationer i {s}? På forhånd tak."),
            ("Spørgsmål om licens til {s}", "Vi vil gerne høre, om det er muligt at tilføje {n} brugere til {s}."),
            ("Forslag til {s}", "Det ville være rart, hvis {s} kunne eksportere til Excel."),
        ],
    },
}
TIMES = ["08:15", "9:40", "this morning", "yesterday", "06:00", "noon", "14:30", "the weekend"]


def generate(per_level: int = 60, seed: int = 7) -> list[dict]:
    """Rows with subject, description, language and level: per_level for each language and level."""
    rng = random.Random(seed)
    rows = []
    for language, levels in T.items():
        for level, templates in levels.items():
            for _ in range(per_level):
                subject, description = rng.choice(templates)
                _, second = rng.choice(templates)  # a second sentence of the same level now and then
                fill = {"s": rng.choice(SYSTEMS), "n": rng.randint(2, 95), "t": rng.choice(TIMES)}
                text = description.format(**fill) + (" " + second.format(**fill) if rng.random() < 0.3 else "")
                rows.append({"subject": subject.format(**fill), "description": text, "language": language, "level": level})
    rng.shuffle(rows)
    return rows


def write(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["subject", "description", "language", "level"])
        writer.writeheader()
        writer.writerows(rows)


def _pattern(template: str) -> str:
    """A template as a regular expression: its words literally, a system, a number or a time where it has one."""
    fills = {
        "{s}": "(?:" + "|".join(map(re.escape, SYSTEMS)) + ")",
        "{n}": r"\d+",
        "{t}": "(?:" + "|".join(map(re.escape, TIMES)) + ")",
    }
    return "".join(fills.get(part, re.escape(part)) for part in re.split(r"(\{[snt]\})", template))


def _matcher() -> re.Pattern:
    subjects = "|".join(_pattern(s) for levels in T.values() for pairs in levels.values() for s, _ in pairs)
    descriptions = "|".join(_pattern(d) for levels in T.values() for pairs in levels.values() for _, d in pairs)
    # as the model reads a row: the text columns joined by a line break (subject, description)
    return re.compile(f"(?:(?:{subjects})\n)?(?:{descriptions})(?: (?:{descriptions}))?")


def generated_share(texts: list[str], most: int = 2000) -> float:
    """The share of texts (of the first `most`) that are this module's sample tickets: metrics measured
    on them say how well a model tells these templates apart, not how it does on real cases."""
    texts = texts[:most]
    if not texts:
        return 0.0
    matcher = _matcher()
    return sum(bool(matcher.fullmatch(text)) for text in texts) / len(texts)

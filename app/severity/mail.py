"""The newest text of a case that arrived as e-mail: quoted earlier messages, signatures and
disclaimers set aside, so that only what the customer writes now raises signals.

A reply carries its history: `> ` lines, an `-----Original Message-----` separator, a block of
`From:` / `Sent:` headers (in the languages we read), or an attribution line (`On … wrote:`,
`Am … schrieb …:`, `… написал(а):`). Everything from the first such mark on is history. Above it, a
closing line (`Kind regards`, `Mit freundlichen Grüßen`, `С уважением`, …) or the `-- ` delimiter
starts the signature, and a paragraph that both says it is confidential and addresses an unintended
recipient is a disclaimer. A reply's subject (`RE:`, `AW:`, `Odp:`, `Ответ:` …) names the thread, not
the news: it is read only when the newest text raises nothing (see `reading`).

Maintained reply parsers were considered; none covers Russian, Indonesian and Portuguese headers, so
this is a small line-based splitter. Its phrases are written normalised (see text.normalise).
"""

import re
from dataclasses import dataclass

from app.severity.text import normalise, words
from app.severity.vocabulary import Hit, Vocabulary

# -- history: everything from the first of these lines on was written earlier ------------------

_SEPARATOR = re.compile(
    r"^[-_=*\s]*(?:original message|ursprungliche nachricht|originalnachricht|weitergeleitete nachricht|"
    r"forwarded message|begin forwarded message|исходное сообщение|пересылаемое сообщение|"
    r"пересланное сообщение|puvodni zprava|preposlana zprava|oryginalna wiadomosc|wiadomosc oryginalna|"
    r"przekazana wiadomosc|oprindelig meddelelse|videresendt meddelelse|oprindelig besked|mensaje original|"
    r"mensaje reenviado|message d origine|message original|message transfere|mensagem original|"
    r"mensagem encaminhada|messaggio originale|messaggio inoltrato|oorspronkelijk bericht|origineel bericht|"
    r"doorgestuurd bericht|pesan asli|pesan terusan|pesan yang diteruskan)[-_=*\s:]*$"
)
_HEADER_FROM = re.compile(r"^\*?(?:from|von|от|od|fra|de|da|van|dari|kimden|fran)\s*\*?:")
_HEADER_OTHER = re.compile(
    r"^\*?(?:sent|date|to|cc|subject|gesendet|datum|an|betreff|отправлено|дата|кому|копия|тема|odeslano|"
    r"komu|predmet|wyslano|data|do|temat|dw|sendt|til|emne|enviado|fecha|para|asunto|envoye|a|objet|"
    r"inviato|oggetto|verzonden|aan|onderwerp|dikirim|tanggal|kepada|perihal|subjek|assunto)\s*\*?:"
)
_VERB = (
    r"(?:^|\s)(?:wrote|writes|schrieb|написал\S*|пишет|napsal\S*|napisal\S*|skrev|escribio|a ecrit|"
    r"escreveu|ha scritto|schreef|menulis)"
)
_WROTE = re.compile(_VERB + r"\s*:$")  # "On … Sarah <s@…> wrote:", "… Иван написал(а):"
# German, Danish and Dutch put the name after the verb ("Am … schrieb Max <m@…>:"): trusted with an
# opening word or an address
_WROTE_NAMED = re.compile(_VERB + r"\s.{1,100}:$")
_OPENER = re.compile(r"^(?:on|am|le|el|em|il|op|dne|w dniu|den|pada|[0-9])\b")
_OUTLOOK_RULE = re.compile(r"^_{8,}$")

# -- the signature: from a closing line, the sig delimiter or a device footer on ---------------

_CLOSINGS = (
    # en
    "kind regards|best regards|warm regards|regards|best|best wishes|thanks|thank you|many thanks|thanks again|"
    "thanks and regards|thanks in advance|cheers|sincerely|yours sincerely|yours faithfully|br|thx|"
    # de
    "mit freundlichen grussen|freundliche grusse|mit besten grussen|viele grusse|beste grusse|liebe grusse|"
    "gruss|grusse|mfg|vg|lg|danke|vielen dank|besten dank|danke und gruss|"
    # ru
    "с уважением|спасибо|заранее спасибо|благодарю|всего доброго|с наилучшими пожеланиями|"
    # cs
    "s pozdravem|s pratelskym pozdravem|dekuji|dekujeme|diky|predem dekuji|"
    # pl
    "pozdrawiam|pozdrawiamy|z powazaniem|z wyrazami szacunku|dziekuje|dziekujemy|z gory dziekuje|"
    # da
    "med venlig hilsen|venlig hilsen|venlige hilsner|de bedste hilsner|bedste hilsner|mvh|hilsen|tak|"
    "mange tak|på forhand tak|pa forhand tak|"
    # id
    "salam|salam hangat|terima kasih|hormat kami|hormat saya|wassalam|"
    # es
    "saludos|un saludo|saludos cordiales|un cordial saludo|atentamente|gracias|muchas gracias|"
    # fr
    "cordialement|bien cordialement|merci|merci d avance|salutations|meilleures salutations|"
    "sinceres salutations|bien a vous|"
    # pt
    "cumprimentos|melhores cumprimentos|com os melhores cumprimentos|atenciosamente|obrigado|obrigada|abracos|"
    # it
    "cordiali saluti|distinti saluti|saluti|un saluto|grazie|grazie mille|"
    # nl
    "met vriendelijke groet|met vriendelijke groeten|vriendelijke groet|groeten|groet|mvg|bedankt|alvast bedankt|dank u"
)
_CLOSING = re.compile(rf"^(?:{_CLOSINGS})[\s,.!]*$")
_SIG_DELIMITER = re.compile(r"^--\s*$")
_DEVICE = re.compile(
    r"^(?:sent from my|gesendet von meinem|von meinem .* gesendet|отправлено с|odeslano z|wyslano z|sendt fra min|"
    r"dikirim dari|enviado desde mi|envoye de mon|enviado do meu|inviato da|verzonden vanaf|verstuurd vanaf)"
)

# -- disclaimers: a paragraph that says both of these ------------------------------------------

_CONFIDENTIAL = re.compile(
    r"confidential|vertraulich|конфиденциальн|duvern|poufn|fortrolig|rahasia|confidencial|confidentiel|"
    r"riservat|vertrouwelijk"
)
_RECIPIENT = re.compile(
    r"recipient|empfanger|адресат|получател|prijemce|adresat|modtager|penerima|destinatari|destinataire|"
    r"ontvanger|geadresseerde"
)

_REPLY_SUBJECT = re.compile(
    r"^\s*(?:(?:re|aw|antw|odp|odpowiedz|sv|vs|res|rv|r|ответ|отв|ang|balas|fw|fwd|wg|tr|rif|doorst|i)"
    r"\s*(?:\[\d+\]|\(\d+\))?\s*:\s*)+",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Mail:
    """A case's text split: `newest` decides, the rest was set aside (counts of non-blank lines)."""

    subject: str
    newest: str
    quoted_lines: int = 0
    signature_lines: int = 0
    disclaimer_lines: int = 0
    reply_subject: bool = False  # the subject carries RE:/AW:/… (it names the thread)

    @property
    def text(self) -> str:
        """Subject and newest text, as the vocabularies and the language detector read them."""
        return f"{self.subject}\n{self.newest}"

    def reading(self, subject_too: bool) -> str:
        """The text to look for signals in: a reply's subject only when asked for (the newest text said nothing)."""
        return self.text if subject_too or not self.reply_subject else self.newest

    @property
    def asks(self) -> bool:
        """The newest text (or the subject) asks something: it has a question mark."""
        return "?" in self.newest or "¿" in self.newest or "?" in self.subject

    @property
    def note(self) -> str | None:
        """What was set aside, in a sentence, or None when the text was read whole."""
        parts = []
        if self.quoted_lines:
            parts.append(f"quoted earlier messages ({_lines(self.quoted_lines)})")
        if self.signature_lines:
            parts.append(f"a signature ({_lines(self.signature_lines)})")
        if self.disclaimer_lines:
            parts.append(f"a disclaimer ({_lines(self.disclaimer_lines)})")
        if not parts:
            return None
        listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        return f"The newest text decided: {listed} set aside."


def signals(mail: Mail, vocabulary: Vocabulary, read: bool = True) -> list[Hit]:
    """The signals the newest text raises (a reply's subject too when the newest text raises none), and,
    when its language is `read` (has a vocabulary), `question` for a question mark (words lose punctuation)."""
    hits = vocabulary.find(words(mail.reading(subject_too=False)))
    if not hits and mail.reply_subject:
        hits = vocabulary.find(words(mail.text))
    if read and mail.asks and "question" in vocabulary.signals and not any(hit.signal == "question" for hit in hits):
        hits.append(Hit("question", "punctuation", "?"))
    return hits


def _lines(n: int) -> str:
    return f"{n} line{'s' if n != 1 else ''}"


def split(subject: str, description: str) -> Mail:
    """Split a case's description into the newest text and what was set aside (see the module docstring).
    A description that is all history (a bare forward) is read whole."""
    lines = description.splitlines()
    keys = [normalise(line) for line in lines]
    history = _history_start(keys)
    head = lines[:history]
    head_keys = keys[:history]
    quoted = sum(1 for key in keys[history:] if key)

    newest, signature, disclaimer = [], 0, 0
    kept_any = False
    in_signature = False
    paragraph: list[tuple[str, str]] = []

    def flush():
        nonlocal disclaimer
        text = " ".join(k for _, k in paragraph)
        if paragraph and _CONFIDENTIAL.search(text) and _RECIPIENT.search(text):
            disclaimer += sum(1 for _, k in paragraph if k)
        else:
            newest.extend(line for line, _ in paragraph)
        paragraph.clear()

    for line, key in zip(head, head_keys):
        if in_signature:
            signature += 1 if key else 0
            continue
        if key.startswith(">"):
            quoted += 1
            continue
        if kept_any and (_CLOSING.match(key) or _SIG_DELIMITER.match(key) or _DEVICE.match(key)):
            in_signature = True
            flush()
            signature += 1
            continue
        if not key:
            flush()
            newest.append(line)
            continue
        kept_any = True
        paragraph.append((line, key))
    flush()
    reply = bool(_REPLY_SUBJECT.match(subject))
    body = "\n".join(newest).strip()
    if not body:  # nothing new above the history (a bare forward): the whole text is the case
        return Mail(subject, description, reply_subject=reply)
    return Mail(subject, body, quoted, signature, disclaimer, reply)


def _attribution(key: str) -> bool:
    return bool(_WROTE.search(key) or (_WROTE_NAMED.search(key) and (_OPENER.match(key) or "@" in key)))


def _history_start(keys: list[str]) -> int:
    """The index of the first line of quoted history, or len(keys)."""
    for i, key in enumerate(keys):
        if not key:
            continue
        if _SEPARATOR.match(key):
            return i
        if _OUTLOOK_RULE.match(key) and any(_HEADER_FROM.match(k) for k in keys[i + 1 : i + 4]):
            return i
        if _HEADER_FROM.match(key) and any(_HEADER_OTHER.match(k) for k in keys[i + 1 : i + 5] if k):
            return i
        if len(key) < 300 and _attribution(key):
            return i
        # an attribution wrapped over two lines ("On Tue, 4 Nov 2026, Sarah <" / "s@example.com> wrote:")
        if _OPENER.match(key) and i + 1 < len(keys) and len(keys[i + 1]) < 200 and _attribution(f"{key} {keys[i + 1]}"):
            return i
    return len(keys)

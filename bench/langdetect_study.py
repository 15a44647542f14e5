"""`python -m bench.langdetect_study`: language detectors compared on this project's texts (docs/language-detection.md).

Accuracy, confidence and the share that would be routed to the wrong model, per detector and per kind of text (full
paragraphs, first sentence, first 40 characters, short sentences in seven languages the service has no model for),
plus single-thread speed and resident memory. Each candidate runs in a fresh child process, so its memory is its
own. Needs the candidates' packages (py3langid, lingua-language-detector); a candidate whose package is missing is
skipped with a note.
"""

import argparse
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from app.inference.language import CANDIDATES as SERVICE_LANGUAGES
from bench.corpus import DEFAULT, load_docs
from bench.make_mixed import ENGLISH_DOCS, FRENCH

SERVED = ("en", "fr")  # the languages the service has a model for: anything else is a dead letter
RESTRICTED = ("en", "fr", "de", "es", "it", "nl", "pt")
# Widely written languages (EU official ones, their neighbours, the largest others), without the regional varieties,
# creoles and pidgins that share most n-grams with English or French (pcm, bcl, oc, wa, gcf, gcr, ht, lb, ...):
# those take probability from en/fr on short texts although such messages practically never arrive.
# Plus py3langid's "zxx" (not a language: numbers, identifiers, markup), so such input is not forced into a language.
MAJOR = SERVICE_LANGUAGES  # what the service uses (app/inference/language.py)
THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95, 0.99)
SHORT_CHARS = 40
MIN_TIMED_SECONDS = 1.0
# Ends a sentence: . ! ? (or ») and a space before a capital or a quote; "M. Dacier" splits early, which is fine:
# the short-text case is meant to be short.
SENTENCE_END = re.compile(r"(?<=[.!?»])\s+(?=[A-ZÀ-ÖØ-Þ«\"])")

# Short sentences written for this study (CC0-1.0, like bench/data/fr.jsonl): the languages the service has no model
# for must come out as themselves or with low confidence, never as English or French with high confidence.
OTHER = {
    "de": (
        "Die Berliner Mauer fiel am 9. November 1989.",
        "Angela Merkel war von 2005 bis 2021 Bundeskanzlerin der Bundesrepublik Deutschland.",
        "Der Rhein fließt durch Basel, Straßburg, Köln und Düsseldorf.",
        "Johann Wolfgang von Goethe wurde 1749 in Frankfurt am Main geboren.",
        "Der FC Bayern München gewann 2020 die Champions League.",
        "Die Zugspitze ist mit 2962 Metern der höchste Berg Deutschlands.",
        "Siemens hat seinen Hauptsitz in München.",
        "Albert Einstein arbeitete als Patentprüfer in Bern.",
        "Das Oktoberfest findet jedes Jahr auf der Theresienwiese statt.",
        "Ludwig van Beethoven wurde in Bonn geboren und starb in Wien.",
        "Die Deutsche Bahn betreibt den ICE zwischen Hamburg und Berlin.",
        "Wien ist die Hauptstadt von Österreich.",
        "Der Bodensee liegt zwischen Deutschland, Österreich und der Schweiz.",
        "Volkswagen wurde 1937 gegründet und sitzt in Wolfsburg.",
        "Marie Curie erhielt zweimal den Nobelpreis.",
        "Die Europäische Zentralbank hat ihren Sitz in Frankfurt.",
        "Thomas Mann schrieb den Roman Buddenbrooks.",
        "Borussia Dortmund spielt im Signal Iduna Park.",
        "Der Kölner Dom wurde 1880 vollendet.",
        "Olaf Scholz folgte Angela Merkel im Amt des Bundeskanzlers.",
    ),
    "es": (
        "Miguel de Cervantes escribió Don Quijote de la Mancha.",
        "El Real Madrid juega en el estadio Santiago Bernabéu.",
        "Pablo Picasso nació en Málaga en 1881.",
        "La Sagrada Familia de Antoni Gaudí está en Barcelona.",
        "Gabriel García Márquez recibió el Premio Nobel de Literatura en 1982.",
        "El río Amazonas atraviesa Perú, Colombia y Brasil.",
        "Buenos Aires es la capital de Argentina.",
        "Rafael Nadal ganó catorce veces Roland Garros.",
        "El Museo del Prado se encuentra en Madrid.",
        "Frida Kahlo vivió en la Casa Azul de Coyoacán, en Ciudad de México.",
        "Telefónica tiene su sede en Madrid.",
        "Simón Bolívar lideró la independencia de Venezuela y Colombia.",
        "La Alhambra de Granada fue construida por la dinastía nazarí.",
        "Lionel Messi jugó en el FC Barcelona antes de fichar por el Paris Saint-Germain.",
        "El lago Titicaca está entre Bolivia y Perú.",
        "Pedro Almodóvar dirigió Todo sobre mi madre.",
        "Inditex, propietaria de Zara, tiene su sede en Arteixo, Galicia.",
        "Cristóbal Colón llegó a América en 1492.",
        "Shakira nació en Barranquilla, Colombia.",
        "El Camino de Santiago termina en la catedral de Santiago de Compostela.",
    ),
    "it": (
        "Leonardo da Vinci dipinse la Gioconda a Firenze.",
        "La Juventus gioca all'Allianz Stadium di Torino.",
        "Roma è la capitale d'Italia e ospita la Città del Vaticano.",
        "Dante Alighieri scrisse la Divina Commedia.",
        "La Ferrari ha sede a Maranello, in provincia di Modena.",
        "Giuseppe Garibaldi guidò la spedizione dei Mille nel 1860.",
        "Il Colosseo fu inaugurato dall'imperatore Tito.",
        "Galileo Galilei insegnò all'Università di Padova.",
        "Venezia è famosa per il Canal Grande e piazza San Marco.",
        "Sergio Mattarella è il presidente della Repubblica italiana.",
        "Il fiume Po attraversa Torino e sfocia nel mare Adriatico.",
        "Enrico Fermi ricevette il premio Nobel per la fisica nel 1938.",
        "Luciano Pavarotti era nato a Modena.",
        "L'Etna è il vulcano attivo più alto d'Europa.",
        "La Fiat fu fondata a Torino nel 1899.",
        "Umberto Eco scrisse Il nome della rosa.",
        "Il Milan ha vinto sette volte la Coppa dei Campioni.",
        "Michelangelo dipinse la volta della Cappella Sistina.",
        "Napoli si affaccia sul golfo dominato dal Vesuvio.",
        "Giorgia Meloni è diventata presidente del Consiglio nel 2022.",
    ),
}

# Languages outside the restricted set (RESTRICTED): a restricted detector cannot name them, so for it the question
# is only whether it forces them into English or French with high confidence.
OUTSIDE = {
    "ca": (
        "Antoni Gaudí va projectar la Sagrada Família de Barcelona.",
        "El Futbol Club Barcelona juga els seus partits al Camp Nou.",
        "Girona és una ciutat travessada pel riu Onyar.",
        "Salvador Dalí va néixer a Figueres l'any 1904.",
        "Andorra la Vella és la capital del Principat d'Andorra.",
        "La Universitat de Barcelona es va fundar l'any 1450.",
        "Montserrat Caballé va cantar amb Freddie Mercury la cançó Barcelona.",
        "El monestir de Montserrat és a prop de Barcelona.",
        "Joan Miró va pintar molts quadres a Mallorca.",
        "La Generalitat de Catalunya té la seu al Palau de la Generalitat.",
    ),
    "ro": (
        "București este capitala României.",
        "Mihai Eminescu este considerat poetul național al României.",
        "Dunărea se varsă în Marea Neagră printr-o deltă.",
        "Nadia Comăneci a obținut primul zece din istoria gimnasticii la Montreal.",
        "Constantin Brâncuși s-a născut la Hobița și a murit la Paris.",
        "Castelul Bran se află lângă Brașov.",
        "Universitatea din Cluj poartă numele lui Babeș și Bolyai.",
        "Simona Halep a câștigat turneul de la Wimbledon în 2019.",
        "Munții Carpați străbat România de la nord la sud-vest.",
        "Dacia este un constructor de automobile din Mioveni.",
    ),
    "sv": (
        "Stockholm är Sveriges huvudstad.",
        "Alfred Nobel föddes i Stockholm år 1833.",
        "ABBA vann Eurovision Song Contest i Brighton år 1974.",
        "IKEA grundades av Ingvar Kamprad i Småland.",
        "Greta Thunberg började sin skolstrejk utanför riksdagshuset.",
        "Volvo har sitt huvudkontor i Göteborg.",
        "Zlatan Ibrahimović föddes i Malmö.",
        "Astrid Lindgren skrev böckerna om Pippi Långstrump.",
        "Uppsala universitet grundades år 1477.",
        "Öresundsbron förbinder Malmö med Köpenhamn.",
    ),
    "pl": (
        "Warszawa jest stolicą Polski.",
        "Maria Skłodowska-Curie urodziła się w Warszawie.",
        "Fryderyk Chopin opuścił Polskę w 1830 roku i osiadł w Paryżu.",
        "Robert Lewandowski grał w Bayernie Monachium i w FC Barcelonie.",
        "Wisła przepływa przez Kraków i Warszawę.",
        "Mikołaj Kopernik studiował na Uniwersytecie Jagiellońskim.",
        "Lech Wałęsa był przywódcą Solidarności w Gdańsku.",
        "Wawel to zamek królewski w Krakowie.",
        "Iga Świątek wygrała turniej Roland Garros w 2022 roku.",
        "Tatry leżą na granicy Polski i Słowacji.",
    ),
}

# Input that is no language at all: it must never reach a model, whatever the detector names it.
NOT_LANGUAGE = (
    "",
    "12345 67890",
    "2024-01-01T12:00:00Z",
    "550e8400-e29b-41d4-a716-446655440000",
    "https://example.com/a/b?c=1",
    "<div class='x'>ok</div>",
    '{"id": 42, "ok": true}',
    "lol :) :) !!!",
    "ok",
    "+33 1 23 45 67 89",
)

Detector = Callable[[str], tuple[str, float]]  # text -> (ISO 639-1 code, confidence in [0, 1])


def _py3langid(langs: tuple[str, ...] | None) -> Detector:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    # norm_probs=True: the documented way to get a probability instead of a raw log score.
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    if langs:
        identifier.set_languages(list(langs))
    return identifier.classify


def _lingua(langs: tuple[str, ...] | None, low_accuracy: bool) -> Detector:
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    if langs:
        builder = LanguageDetectorBuilder.from_iso_codes_639_1(*(IsoCode639_1.from_str(c) for c in langs))
    else:
        builder = LanguageDetectorBuilder.from_all_languages()
    if low_accuracy:
        builder = builder.with_low_accuracy_mode()
    # Preloaded, as lingua's docs advise for a service: no model load inside a message's time budget.
    detector = builder.with_preloaded_language_models().build()

    def detect(text: str) -> tuple[str, float]:
        values = detector.compute_language_confidence_values(text)
        top = values[0]
        # All zero when no language model matches (digits only, say): no language, confidence 0.
        return (top.language.iso_code_639_1.name.lower(), top.value) if top.value > 0 else ("und", 0.0)

    return detect


CANDIDATES: dict[str, Callable[[], Detector]] = {
    "py3langid": lambda: _py3langid(None),
    "py3langid-7": lambda: _py3langid(RESTRICTED),
    "py3langid-55": lambda: _py3langid(MAJOR),
    "lingua": lambda: _lingua(None, low_accuracy=False),
    "lingua-7": lambda: _lingua(RESTRICTED, low_accuracy=False),
    "lingua-low": lambda: _lingua(None, low_accuracy=True),
    "lingua-7-low": lambda: _lingua(RESTRICTED, low_accuracy=True),
}
PACKAGES = {"py3langid": "py3langid", "lingua": "lingua-language-detector"}


def first_sentence(text: str) -> str:
    return SENTENCE_END.split(text, maxsplit=1)[0]


def datasets() -> dict[str, list[tuple[str, str]]]:
    """Named lists of (text, true language): each corpus whole, its first sentences and its first 40 characters."""
    english = [(d["text"], "en") for d in load_docs(DEFAULT, limit=ENGLISH_DOCS)]
    french = [(d["text"], "fr") for d in load_docs(FRENCH)]
    other = [(text, lang) for lang, texts in OTHER.items() for text in texts]
    out = {}
    for name, docs in (("fr", french), ("en", english)):
        out[f"{name} paragraph"] = docs
        out[f"{name} 1st sentence"] = [(first_sentence(t), lang) for t, lang in docs]
        out[f"{name} {SHORT_CHARS} chars"] = [(t[:SHORT_CHARS], lang) for t, lang in docs]
    out["de+es+it sentence"] = other
    out["ca+ro+sv+pl sentence"] = [(text, lang) for lang, texts in OUTSIDE.items() for text in texts]
    out["not language"] = [(text, "zxx") for text in NOT_LANGUAGE]
    return out


def rss_mib() -> dict[str, float]:
    """This process's resident memory now and at its peak (Linux /proc), MiB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return {key: round(int(fields[key].split()[0]) / 1024, 1) for key in ("VmRSS", "VmHWM")}


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))], 4)


def score(results: list[tuple[str, float]], truth: list[str]) -> dict:
    """Accuracy, confidence quantiles, and what a minimum confidence would do with a service serving en and fr.

    Per threshold: `routed_wrong` is the share the service would run with the wrong model (detected en/fr, not the
    truth, confidence at or above it), `dead` the share it would dead-letter (confidence below it, or a language it
    has no model for). For German/Spanish/Italian text, dead letter is the right answer.
    """
    n = len(truth)
    correct = [r[0] == t for r, t in zip(results, truth, strict=True)]
    conf_ok = [r[1] for r, ok in zip(results, correct, strict=True) if ok]
    conf_bad = [r[1] for r, ok in zip(results, correct, strict=True) if not ok]
    by_threshold = {}
    for th in THRESHOLDS:
        routed = [(lang, t) for (lang, c), t in zip(results, truth, strict=True) if c >= th and lang in SERVED]
        by_threshold[str(th)] = {
            "routed_wrong": round(sum(lang != t for lang, t in routed) / n, 4),
            "dead": round(1 - len(routed) / n, 4),
        }
    return {
        "n": n,
        "accuracy": round(sum(correct) / n, 4),
        "wrong_as": sorted({r[0] for r, ok in zip(results, correct, strict=True) if not ok}),
        "conf_correct_p10": percentile(conf_ok, 10),
        "conf_correct_p50": percentile(conf_ok, 50),
        "conf_wrong_max": round(max(conf_bad), 4) if conf_bad else None,
        "thresholds": by_threshold,
    }


def run_candidate(name: str, repeats: int) -> dict:
    """One candidate in this process: memory after loading, then every dataset: accuracy, and for the speed (single
    thread) the fastest of at least `repeats` passes and a second of passes."""
    before = rss_mib()["VmRSS"]
    started = time.perf_counter()
    detect = CANDIDATES[name]()
    detect("warm-up")
    load_seconds = time.perf_counter() - started
    loaded = rss_mib()["VmRSS"]
    out: dict = {"candidate": name, "load_seconds": round(load_seconds, 2), "rss_base_mib": before}
    out["rss_loaded_mib"] = loaded
    out["datasets"] = {}
    for ds_name, items in datasets().items():
        texts = [t for t, _ in items]
        passes, spent, best = 0, 0.0, float("inf")
        # At least `repeats` passes and one timed second, so a 20 ms pass on a busy machine is not the figure.
        while passes < repeats or spent < MIN_TIMED_SECONDS:
            t0 = time.perf_counter()
            results = [detect(t) for t in texts]
            elapsed = time.perf_counter() - t0
            passes, spent, best = passes + 1, spent + elapsed, min(best, elapsed)
        truth = [lang for _, lang in items]
        scored = score(results, truth)
        scored["errors"] = [
            {"text": t[:120], "truth": lang, "got": got, "conf": round(conf, 4)}
            for t, lang, (got, conf) in zip(texts, truth, results, strict=True)
            if got != lang
        ]
        scored["texts_per_s"] = round(len(texts) / best, 1)
        scored["mean_chars"] = round(sum(map(len, texts)) / len(texts), 1)
        out["datasets"][ds_name] = scored
    out.update({"rss_end_mib": rss_mib()["VmRSS"], "rss_peak_mib": rss_mib()["VmHWM"]})
    return out


def versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str | None] = {}
    for dist in PACKAGES.values():
        try:
            found[dist] = version(dist)
        except PackageNotFoundError:
            found[dist] = None
    return found


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def markdown(report: dict) -> str:
    """The tables docs/language-detection.md shows: quality per dataset, then speed and memory."""
    rows = [
        "| detector | texts | accuracy | conf. p10 / p50 (correct) | max conf. (wrong) | "
        "wrong model at 0.5 / 0.8 / 0.9 | dead letter at 0.5 / 0.8 / 0.9 |",
        "|---|---|---|---|---|---|---|",
    ]
    for cand in report["candidates"]:
        for ds_name, s in cand["datasets"].items():
            th = s["thresholds"]
            wrong = " / ".join(f"{th[k]['routed_wrong']:.1%}" for k in ("0.5", "0.8", "0.9"))
            dead = " / ".join(f"{th[k]['dead']:.1%}" for k in ("0.5", "0.8", "0.9"))
            rows.append(
                f"| {cand['candidate']} | {ds_name} ({s['n']}) | {s['accuracy']:.1%} | "
                f"{_num(s['conf_correct_p10'])} / {_num(s['conf_correct_p50'])} | {_num(s['conf_wrong_max'])} | "
                f"{wrong} | {dead} |"
            )
    rows += [
        "",
        "| detector | load s | RSS loaded MiB (Python alone) | texts/s paragraph (fr / en) | "
        "texts/s 1st sentence (fr / en) | texts/s 40 chars (fr / en) |",
        "|---|---|---|---|---|---|",
    ]
    for cand in report["candidates"]:
        d = cand["datasets"]

        def speed(kind: str, d: dict = d) -> str:
            return f"{d['fr ' + kind]['texts_per_s']:,.0f} / {d['en ' + kind]['texts_per_s']:,.0f}"

        rows.append(
            f"| {cand['candidate']} | {cand['load_seconds']} | {cand['rss_loaded_mib']:.0f} "
            f"({cand['rss_base_mib']:.0f}) | {speed('paragraph')} | {speed('1st sentence')} | "
            f"{speed(f'{SHORT_CHARS} chars')} |"
        )
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--candidates",
        default=",".join(CANDIDATES),
        help=f"comma-separated, from: {', '.join(CANDIDATES)} (default: all whose package is installed)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="least timed passes per dataset; the fastest counts")
    parser.add_argument("--out", type=Path, help="write the full results as JSON here")
    parser.add_argument("--tables", type=Path, help="measure nothing: print the tables of an earlier --out file")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one candidate, print its JSON
    args = parser.parse_args(argv)
    if args.tables:
        print(markdown(json.loads(args.tables.read_text(encoding="utf-8"))))
        return 0
    if args.one:
        print(json.dumps(run_candidate(args.one, args.repeats)))
        return 0
    installed = versions()
    report: dict = {"versions": installed, "python": sys.version.split()[0], "candidates": [], "skipped": []}
    for name in args.candidates.split(","):
        package = PACKAGES[name.split("-")[0]]
        if installed[package] is None:
            report["skipped"].append(f"{name}: {package} is not installed")
            continue
        cmd = [sys.executable, "-m", "bench.langdetect_study", "--one", name, "--repeats", str(args.repeats)]
        print(f">> {name}", file=sys.stderr)
        child = subprocess.run(cmd, check=True, capture_output=True, text=True)
        report["candidates"].append(json.loads(child.stdout))
    for note in report["skipped"]:
        print(f"skipped {note}", file=sys.stderr)
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Made-up but realistic-looking news stories, and fast bulk loading into the app's tables.

Text comes from word lists with a Zipf-like frequency (a few words in most stories, most words in
few), plus 20,000 generated words and names, so the search index has a realistic shape. Some rare
words are planted in a known number of stories, so a search for them has a known answer.

Loading uses SQLAlchemy core inserts (executemany) on a connection of the app's own engine, then
fills the search table in one INSERT ... SELECT with the same columns ``app.search.index_story``
writes (SQLite FTS5 row = story id; PostgreSQL the same tsvector expressions, and their words).
"""

from __future__ import annotations

import functools
import random
import re
from datetime import datetime, timedelta

from sqlalchemy import text

# --- word lists ------------------------------------------------------------------------------

COMMON = """
nato allies allied defence security minister ministers summit support forces military secretary general
meeting exercise countries international cooperation partners alliance deterrence training troops
operations capabilities readiness commitment spending leaders headquarters mission members member
deployment exercises partnership strategic command air maritime land cyber collective response
crisis stability region eastern northern southern flank brussels ukraine baltic sea ships aircraft
""".split()
MEDIUM = """
policing fighter jets frigate destroyer submarine helicopter paratroopers infantry armoured tanks
artillery logistics convoy headquarters staff officers soldiers sailors airmen marines engineers
medical evacuation humanitarian disaster relief resilience infrastructure energy hybrid threats
disinformation terrorism counter drones unmanned satellite space radar missile defence shield
interoperability standardisation procurement industry production ammunition stockpiles investment
budget percent gdp pledge burden sharing parliament assembly council committee delegation
ambassador envoy spokesperson press conference statement declaration communique agenda talks
dialogue negotiations treaty article consultations partners neighbours arctic high north
mediterranean black atlantic pacific western balkans kosovo peacekeeping mission iraq afghanistan
finland sweden norway denmark estonia latvia lithuania poland germany france italy spain portugal
netherlands belgium luxembourg canada united states kingdom turkiye greece romania bulgaria hungary
slovakia slovenia croatia albania montenegro north macedonia czechia iceland tallinn riga vilnius
warsaw bucharest ankara antalya hague washington madrid vilnius oslo helsinki stockholm copenhagen
amphibious landing beach coastal patrol vessel minehunter minesweeper naval group standing
multinational battlegroup brigade division corps battalion company platoon rotation enhanced
forward presence vigilance activity scramble intercept airspace violation transponder bomber
tanker refuelling awacs surveillance reconnaissance intelligence sharing exchange centre excellence
academy college school course graduation ceremony anniversary memorial wreath veterans tribute
visit visits visited arrives arrived welcomed hosted opened launched signed agreed announced
praised stressed underlined highlighted warned discussed addressed reviewed approved adopted
""".split()
FILLER = """
the of and to in a for on with at by from as is was were be has have had that this which will
would their its it they he she we our new more most also after before during over under between
about against into through first second third last next year years week weeks day days month
today yesterday tomorrow morning evening said says told added continued concluded noted very
important clear strong together further well both all many some several other each every
""".split()
SHOTS = """
wide medium close shot shots cutaway pan tilt zoom aerial view exterior interior arrival departure
handshake podium flags family photo soundbite b-roll footage sequence tracking panning
""".split()
CATEGORIES = [
    "Air policing",
    "Cyber defence",
    "Defence spending",
    "Exercises",
    "Maritime security",
    "Ministerial meetings",
    "Partnerships",
    "Press conferences",
    "Summits",
    "Training",
    "Innovation",
    "Resilience",
]
LOCATIONS = [
    "Brussels, Belgium",
    "Tallinn, Estonia",
    "Riga, Latvia",
    "Vilnius, Lithuania",
    "Warsaw, Poland",
    "Antalya, Türkiye",
    "The Hague, Netherlands",
    "Washington, United States",
    "Madrid, Spain",
    "Oslo, Norway",
    "Helsinki, Finland",
    "Bucharest, Romania",
    "Naples, Italy",
    "Mons, Belgium",
    "Norfolk, United States",
    "Keflavik, Iceland",
    "Baltic Sea",
    "Black Sea",
    "Mediterranean Sea",
    "",
]

# Planted words and how many stories carry each: a search for them has a known answer.
RARE = {
    "kirkenes": 3,
    "svalbard": 12,
    "narva": 25,
    "hydrographic": 40,
    "quadrilateral": 60,
    "bathymetry": 8,
    "ornithologist": 1,
    "tundra": 30,
    "glockenspiel": 2,
    "lighthouse": 80,
    "icebreaker": 50,
    "sonobuoy": 15,
    "telemetry": 100,
    "falconry": 5,
    "zeppelin": 20,
}
SYLLABLES = [
    "ka",
    "ri",
    "to",
    "ven",
    "mar",
    "sol",
    "dan",
    "lin",
    "ber",
    "gan",
    "ost",
    "vik",
    "nor",
    "hel",
    "ta",
    "mi",
    "ros",
    "el",
    "an",
    "ko",
    "lu",
    "pe",
    "sa",
    "dor",
    "wen",
    "bru",
    "zel",
    "fin",
]


def _scaled(words: list[str], exponent: float, mass: float) -> list[float]:
    """Zipf weights (1 / rank ** exponent) for ``words``, scaled to add up to ``mass``."""
    raw = [1.0 / rank**exponent for rank in range(1, len(words) + 1)]
    total = sum(raw)
    return [mass * w / total for w in raw]


class StoryMaker:
    """Deterministic (seeded) story text."""

    def __init__(self, seed: int = 20250515):
        self.random = random.Random(seed)
        names = set()
        while len(names) < 20_000:
            names.add("".join(self.random.choices(SYLLABLES, k=self.random.choice((2, 3, 3, 4)))))
        self.names = sorted(names)
        self.random.shuffle(self.names)
        # One vocabulary, one weighted draw per text. Shares of all words: stop-word-like fillers
        # 40 % (uniform), the news words above 15 % (Zipf, so "nato" is in most stories and
        # "submarine" in a few per cent), 15,000 generated general words 38 % and 5,000 generated
        # names 7 % (both Zipf, a long tail of rare terms as in real text).
        content = list(dict.fromkeys(COMMON + MEDIUM))
        general, names = self.names[:15_000], [n.capitalize() for n in self.names[15_000:]]
        self.vocabulary = FILLER + content + general + names
        weights = (
            [0.40 / len(FILLER)] * len(FILLER)
            + _scaled(content, 0.9, 0.15)
            + _scaled(general, 1.0, 0.38)
            + _scaled(names, 1.1, 0.07)
        )
        self.cum_weights, total = [], 0.0
        for w in weights:
            total += w
            self.cum_weights.append(total)

    def words(self, n: int) -> list[str]:
        return self.random.choices(self.vocabulary, cum_weights=self.cum_weights, k=n)

    def sentence(self, n: int) -> str:
        words = self.words(n)
        return " ".join([words[0].capitalize(), *words[1:]]) + "."

    def paragraph(self, sentences: int) -> str:
        return " ".join(self.sentence(self.random.randint(8, 18)) for _ in range(sentences))

    def story(self, number: int) -> dict:
        r = self.random
        title_words = self.words(r.randint(4, 7))
        title = " ".join(w.capitalize() if i == 0 or r.random() < 0.3 else w for i, w in enumerate(title_words))
        summary = self.sentence(r.randint(18, 30))
        body = "\n\n".join(self.paragraph(r.randint(2, 4)) for _ in range(r.randint(2, 3)))
        shots = "\n".join(
            f"00:00:{i * 7:02d} {' '.join(r.choices(SHOTS, k=3)).capitalize()} {' '.join(self.words(3))}"
            for i in range(r.randint(2, 5))
        )
        return {
            "title": title[:290],
            "summary": summary,
            "body": body,
            "shotlist": shots,
            "location": r.choice(LOCATIONS),
            "categories": r.sample(range(len(CATEGORIES)), r.randint(1, 2)),
        }


@functools.lru_cache(maxsize=4)
def plant_rare_words(total: int, seed: int = 7) -> dict[int, tuple[str, ...]]:
    """Story id -> rare words to add to its body: each word goes into RARE[word] of every 100,000
    stories (at least one) among ids 1..total."""
    r = random.Random(seed)
    planted: dict[int, list[str]] = {}
    for word, n in RARE.items():
        for sid in r.sample(range(1, total + 1), max(1, min(total, round(n * total / 100_000)))):
            planted.setdefault(sid, []).append(word)
    return {sid: tuple(words) for sid, words in planted.items()}


def slugify(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")[:60]


# --- loading -----------------------------------------------------------------------------------

CHUNK = 10_000  # stories made from one seed: the same ids get the same text however they are loaded


def load_stories(
    connection,
    count: int,
    *,
    newest: datetime,
    spacing: timedelta = timedelta(hours=1),
    seed: int = 20250515,
    batch: int = 5000,
    first_id: int = 1,
    total: int | None = None,
    progress=None,
) -> None:
    """Insert stories first_id .. first_id + count - 1, each with 1-2 categories, a Video and a Rendition.

    Story ``i`` is published ``(i - 1) * spacing`` before ``newest`` (the newest has id 1).
    ``total`` is the size of the whole set when it is loaded in parts (where the rare words go).
    Call inside a transaction (``engine.begin()``); fill the search table afterwards with
    :func:`index_all`.
    """
    from app.models import Category, Rendition, Story, Video, story_categories

    if first_id == 1:
        connection.execute(
            Category.__table__.insert(),
            [{"id": i + 1, "slug": slugify(name), "name": name} for i, name in enumerate(CATEGORIES)],
        )
    planted = plant_rare_words(total or first_id + count - 1)
    created = datetime(2025, 1, 1)
    maker = None
    stories, links, videos, renditions = [], [], [], []

    def flush() -> None:
        if stories:
            connection.execute(Story.__table__.insert(), stories)
            connection.execute(story_categories.insert(), links)
            connection.execute(Video.__table__.insert(), videos)
            connection.execute(Rendition.__table__.insert(), renditions)
        for rows in (stories, links, videos, renditions):
            rows.clear()

    for sid in range(first_id, first_id + count):
        if maker is None or (sid - 1) % CHUNK == 0:
            maker = StoryMaker(seed + (sid - 1) // CHUNK)
        s = maker.story(sid)
        body = s["body"]
        if sid in planted:
            body += " " + maker.sentence(6)[:-1] + " " + " ".join(planted[sid]) + "."
        slug = f"{slugify(s['title'])}-{sid}"
        stories.append(
            {
                "id": sid,
                "slug": slug,
                "title": s["title"],
                "published_at": newest - (sid - 1) * spacing,
                "location": s["location"],
                "summary": s["summary"],
                "body": body,
                "credit_line": "Courtesy of NATO",
                "rights_note": "Free of charge for news, documentary and education.",
                "created_at": created,
            }
        )
        links += [{"story_id": sid, "category_id": c + 1} for c in s["categories"]]
        videos.append(
            {
                "id": sid,
                "story_id": sid,
                "duration_seconds": 30.0 + sid % 300,
                "shotlist": s["shotlist"],
                "poster_filename": f"{slug}/poster.jpg",
            }
        )
        renditions.append(
            {
                "id": sid,
                "video_id": sid,
                "label": "HD 1080p",
                "container": "MP4",
                "codec": "H.264",
                "width": 1920,
                "height": 1080,
                "bytes": 50_000_000 + sid,
                "filename": f"{slug}/{slug}-1080p.mp4",
                "mimetype": "video/mp4",
                "is_preview": True,
            }
        )
        if len(stories) >= batch:
            flush()
            if progress:
                progress(sid - first_id + 1)
    flush()


def index_all(connection, first_id: int = 1, last_id: int | None = None) -> None:
    """Give stories first_id..last_id their search keys and fill ``story_search`` for them in one
    statement each, with what ``app.search.index_story`` would write (our generated stories are
    an hour apart, so each gets the first key of its minute, and their text has no control
    characters, which is all its ``_clean`` removes)."""
    from app import search

    where = "WHERE s.id >= :first" + (" AND s.id <= :last" if last_id is not None else "")
    params = {"first": first_id, "last": last_id, "slots": search.KEY_SLOTS}
    minutes = (
        "CAST(strftime('%s', published_at) AS INTEGER) / 60"
        if connection.dialect.name == "sqlite"
        else "CAST(floor(extract(epoch FROM published_at) / 60) AS BIGINT)"
    )
    connection.execute(text(f"UPDATE stories AS s SET search_key = {minutes} * :slots + s.id % :slots {where}"), params)
    if connection.dialect.name == "sqlite":
        connection.execute(
            text(
                "INSERT INTO story_search (rowid, title, summary, body, shotlist) "
                "SELECT s.search_key, s.title, s.summary, s.body, COALESCE(v.shotlist, '') "
                f"FROM stories s LEFT JOIN videos v ON v.story_id = s.id {where}"
            ),
            params,
        )
        return
    columns = {"title": "s.title", "summary": "s.summary", "body": "s.body", "shotlist": "COALESCE(v.shotlist, '')"}
    document, title_document = search.POSTGRES_DOCUMENT, search.POSTGRES_TITLE_DOCUMENT
    for name, column in columns.items():
        if f":{name}" not in document:
            raise RuntimeError(f"app.search.POSTGRES_DOCUMENT no longer has :{name}; update bench/corpus.py")
        document, title_document = document.replace(f":{name}", column), title_document.replace(f":{name}", column)
    connection.execute(
        text(
            f"INSERT INTO story_search (story_id, sort_key, title_document, document) "
            f"SELECT s.id, s.search_key, {title_document}, {document} "
            f"FROM stories s LEFT JOIN videos v ON v.story_id = s.id {where}"
        ),
        params,
    )
    indexed = "story_id >= :first" + (" AND story_id <= :last" if last_id is not None else "")
    connection.execute(text(search.POSTGRES_REMEMBER_WORDS.format(where=indexed)), params)


def check_index_matches_app(session, story_id: int) -> None:
    """Re-index one story with ``app.search.index_story`` and check the row is unchanged."""
    from app import search
    from app.models import Story

    if session.get_bind().dialect.name == "sqlite":
        read = text(
            "SELECT rowid, title, summary, body, shotlist FROM story_search "
            "WHERE rowid = (SELECT search_key FROM stories WHERE id = :id)"
        )
    else:
        read = text("SELECT sort_key, title_document::text, document::text FROM story_search WHERE story_id = :id")
    before = session.execute(read, {"id": story_id}).one()
    search.index_story(session, session.get(Story, story_id))
    after = session.execute(read, {"id": story_id}).one()
    session.rollback()
    if tuple(before) != tuple(after):
        raise RuntimeError(f"bulk search row for story {story_id} differs from app.search.index_story's")

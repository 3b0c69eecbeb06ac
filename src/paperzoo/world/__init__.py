"""The procedural synthetic world every small-scale run trains and evaluates on.

No weights or datasets can be downloaded, so the package generates its own data. Every
generator is a pure function of (config, seed) (and a split and an index), so two runs
with the same seed see identical data; fixed evaluation sets are cached on disk under
`$PAPERZOO_CACHE/world/` (default: the user cache folder).

`scenes` is the first part: images of coloured shapes with compositional captions,
per-object masks and boxes, and the caption-word -> object map; `captions` varies those
captions (templates, partial mention, synonyms, distractors, a larger object vocabulary) for
`captions.VARIED`, where a word's slot no longer says which object it describes. `speech` is a small
corpus of English sentences spoken by espeak-ng (a procedural source-filter speaker where
it is missing) at 22,050 Hz, normalised as FreGrad's data pipeline does.

The text worlds: `instructions` holds program-checkable instruction tasks and their rubric
(Self-Rewarding's tiny model); `checkable` holds English instructions with a
generation-verification gap (constrained sentences, lists, JSON, verifying sums), their
checker and a Fig. 2 rubric, for a real instruct model (Self-Rewarding on SmolLM2);
`conversations` holds fictional entities, chunked fact documents and multi-turn dialogues
with pronoun follow-ups, topic switches and unanswerable turns (ChatQA). They share `text`:
the held-out hash rule (`is_held_out`, `key_hash`), the per-example random stream
(`world_rng`) and, for the two token-level worlds, the word-level tokenizer builder
(`word_tokenizer`, whitespace or punctuation split).

`videos` moves the scene objects: clips of shapes that bounce, orbit or drift, with captions
naming each motion, per-frame actions (object 0's velocity), ground-truth trajectories and
`track_colours`, which recovers trajectories from any frames by colour (WorldDreamer).
`objects3d` is the 3D world (SHINOBI): one analytic object with spatially varying basecolour and
roughness, photographed from jittered cameras under per-photograph spherical-Gaussian light in
front of varied backgrounds, with masks and the true poses, materials and normals. `batch.ArrayBatch` is what a scene batch
and a clip batch share: sub-batches and the .npz round trip.
"""

from paperzoo.world import captions, checkable, conversations, objects3d, videos
from paperzoo.world.conversations import (
    CONVERSATIONS_VERSION,
    REFUSAL,
    Chunk,
    Dialogue,
    Document,
    Entity,
    SingleTurnQA,
    Turn,
    chunk_sentences,
)

from paperzoo.world.scenes import (
    ATTRIBUTES,
    BACKGROUND_TOKEN,
    BACKGROUNDS,
    COLOURS,
    PAD,
    PAD_ID,
    RELATIONS,
    SHAPES,
    SIZES,
    SPLIT_IDS,
    TEXTURES,
    UNK,
    UNK_ID,
    VOCAB,
    WORLD_VERSION,
    Scene,
    SceneBatch,
    SceneConfig,
    SceneObject,
    WordTokenizer,
    describe,
    load_scenes,
    make_scenes,
    max_caption_length,
    object_words,
    paint_scene,
    patch_targets,
    relation_word,
    render_scene,
    scene,
    scene_stream,
    scenes_cache_path,
    size_extent,
    tokenize,
)
from paperzoo.world.show import show_scenes
from paperzoo.world.text import is_held_out, key_hash, pre_tokenizer, split_words, word_tokenizer, world_rng
from paperzoo.world.speech import (
    HOP,
    SAMPLE_RATE,
    SPEECH_VERSION,
    SPLIT_PAIRS,
    VOICES,
    SpeechConfig,
    Utterance,
    load_speech,
    make_speech,
    normalise_audio,
    procedural_speak,
    resolve_backend,
    speak,
    speech_cache_path,
    trim_silence,
)

__all__ = [
    "captions", "checkable", "conversations", "objects3d", "videos", "CONVERSATIONS_VERSION", "REFUSAL", "Chunk", "Dialogue", "Document", "Entity", "SingleTurnQA", "Turn",
    "chunk_sentences",
    "is_held_out", "key_hash", "pre_tokenizer", "split_words", "word_tokenizer", "world_rng",
    "ATTRIBUTES", "BACKGROUND_TOKEN", "BACKGROUNDS", "COLOURS", "PAD", "PAD_ID", "RELATIONS", "SHAPES", "SIZES", "SPLIT_IDS", "TEXTURES", "UNK", "UNK_ID",
    "VOCAB", "WORLD_VERSION",
    "Scene", "SceneBatch", "SceneConfig", "SceneObject", "WordTokenizer",
    "describe", "load_scenes", "make_scenes", "max_caption_length", "object_words", "paint_scene", "patch_targets",
    "relation_word", "render_scene", "scene", "scene_stream", "scenes_cache_path", "size_extent", "tokenize",
    "show_scenes",
    "HOP", "SAMPLE_RATE", "SPEECH_VERSION", "SPLIT_PAIRS", "VOICES",
    "SpeechConfig", "Utterance",
    "load_speech", "make_speech", "normalise_audio", "procedural_speak", "resolve_backend", "speak", "speech_cache_path", "trim_silence",
]

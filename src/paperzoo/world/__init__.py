"""The procedural synthetic world every small-scale run trains and evaluates on.

No weights or datasets can be downloaded, so the package generates its own data. Every
generator is a pure function of (config, seed) (and a split and an index), so two runs
with the same seed see identical data; fixed evaluation sets are cached on disk under
`$PAPERZOO_CACHE/world/` (default: the user cache folder).

`scenes` is the first part: images of coloured shapes with compositional captions,
per-object masks and boxes, and the caption-word -> object map. Videos, 3D objects,
speech and text worlds will sit beside it as sibling modules.
"""

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

__all__ = [
    "ATTRIBUTES", "BACKGROUND_TOKEN", "BACKGROUNDS", "COLOURS", "PAD", "PAD_ID", "RELATIONS", "SHAPES", "SIZES", "SPLIT_IDS", "TEXTURES", "UNK", "UNK_ID",
    "VOCAB", "WORLD_VERSION",
    "Scene", "SceneBatch", "SceneConfig", "SceneObject", "WordTokenizer",
    "describe", "load_scenes", "make_scenes", "max_caption_length", "object_words", "paint_scene", "patch_targets",
    "relation_word", "render_scene", "scene", "scene_stream", "scenes_cache_path", "size_extent", "tokenize",
    "show_scenes",
]

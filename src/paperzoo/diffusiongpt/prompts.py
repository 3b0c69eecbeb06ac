"""The controller's prompts, in the paper's words (Fig. 3 and §II-A).

Each instruction sentence is Fig. 3's; the reply formats ("Prompts:", "Categories:", "Knowledge
Tree:", "Selected:", "Model:") are the ones the official code parses, and the four parse
examples are §II-A's. The official code's longer LangChain templates are not reproduced; the
few sentences they add (e.g. "fewer than 5" subject categories) are stated in §II-B and kept.
Slots are filled with `str.format` (Fig. 3: "the slots {} are uniformly replaced").
"""

PROMPT_PARSE = """Given the user input text. Please judge the paradigm of the input text, and then recognize the main string of text prompts according to the corresponding form.
The output MUST follow the template:
Prompts: [the output prompts]

For instance:
1. Input: a dog
   Prompts: a dog
2. Input: generate an image of a dog
   Prompts: an image of a dog
3. Input: I want to see a beach
   Prompts: a beach
4. Input: If you give me a toy, I will laugh very happily
   Prompts: a toy and a laugh face

Input: {inputs}
"""

TREE_SUBJECTS = """You are an information analyst who can analyze and summarize a set of words to abstract some representation categories.
Abstract the categories in the Subject dimension only (concrete nouns), fewer than 5 categories in all, and remove the Style-related categories.
The output MUST follow the template:
Categories:
- [Subject]
- [Subject]

Input: {input}
"""

TREE_STYLES = """You are an information analyst who can analyze and summarize a set of words to abstract some representation categories.
Abstract the categories in the Style dimension only, fewer than 8 categories in all.
The output MUST follow the template:
Categories:
- [Style]
- [Style]

Input: {input}
"""

TREE_BUILD = """You are an information analyst who can create a Knowledge Tree according to the input categories.
Place each Style category as a subcategory under the Subject categories it can be well matched with to form a reasonable scene.
The output MUST follow the template:
Knowledge Tree:
- [Subject]
  - [Style]
  - [Style]
- [Subject]
  - [Style]

Subject Input: {subject}

Style Input: {style}
"""

TREE_ADD_MODELS = """You are an information analyst who can add some input models to an input knowledge tree according to the similarity of the model tags and the categories of the knowledge tree.
Place each input model under the appropriate subcategories of the tree. Keep the original content of the knowledge tree.
The output MUST follow the template:
Knowledge Tree:
- [Subject]
  - [Style]
    - [model name]

Knowledge Tree Input: {tree}

Models Input: {models}

Model Tags Input: {model_tags}
"""

TREE_SEARCH = """Identify and behave as five different experts that are appropriate to select one element from the input category list that best matches the input prompt. All experts will write down the selection result, then share it with the group. You then analyze all 5 analyses and output the consensus selected element or your best guess matched element.
The output MUST follow the template:
Selected: [the selected element]

Input list: {search_list}

Input prompt: {input}
"""

MODEL_INTERSECT = """Please judge whether each name in this list {model_list_T} has highly similar name in the list {model_list_H}, if yes, output the similar model name "intersection_model".
The output MUST follow the template:
Model: [model name, ...]
"""

MODEL_SELECT = """Please select one model name from the following model list {intersection_model} that has the highest frequency and top ranking according to the list {model_list_H}.
The output MUST follow the template:
Model: [model name]
"""

# Not in the paper: the official code asks once more for an exact zoo key ("snap").
MODEL_SNAP = """Please select one element from the list {names} that is the same model as {model}. The output MUST be exactly one element of the list.
Model: [model name]
"""

PROMPT_EXTENSION = """Here is a paragraph describing an image: {inputs}.
Please follow the sentence pattern of the example to expand the description of the input paragraph. The output MUST preserve the contents of the input paragraph. Example: {example_prompt}.
"""

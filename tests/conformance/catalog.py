"""What the conformance suite's server scenarios call, as plain data shared by both
fixtures (`legacy_fixture.py`, session era, SDK 1.x; `modern_fixture.py`, 2026-07-28,
SDK 2.x): the tools' names, descriptions and input schemas, the resources, the media.
"""

IMAGE = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
AUDIO = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="


def obj(properties=None, required=None):
    schema = {"type": "object", "properties": properties or {}}
    if required:
        schema["required"] = required
    return schema


TOOLS = [
    ("test_simple_text", "Returns simple text", obj()),
    ("test_image_content", "Returns an image", obj()),
    ("test_audio_content", "Returns audio", obj()),
    ("test_embedded_resource", "Returns an embedded resource", obj()),
    ("test_multiple_content_types", "Returns text, image and a resource", obj()),
    ("test_tool_with_logging", "Logs three messages while it runs", obj()),
    ("test_logging_tool", "Logs at several levels", obj()),
    ("test_tool_with_progress", "Reports progress three times", obj()),
    ("test_error_handling", "Always fails", obj()),
    ("test_sampling", "Asks the client to sample", obj({"prompt": {"type": "string"}}, ["prompt"])),
    ("test_elicitation", "Asks the user", obj({"message": {"type": "string"}}, ["message"])),
    ("test_elicitation_sep1034_defaults", "Asks with defaults", obj()),
    ("test_elicitation_sep1330_enums", "Asks with enums", obj()),
    ("test_missing_capability", "Needs sampling", obj()),
    ("test_streaming_elicitation", "Asks the user mid-call", obj()),
    ("test_input_required_result_elicitation", "Asks a name", obj()),
    ("test_input_required_result_sampling", "Asks for a sample", obj()),
    ("test_input_required_result_list_roots", "Asks for roots", obj()),
    ("test_input_required_result_request_state", "Asks a confirmation", obj()),
    ("test_input_required_result_multiple_inputs", "Asks three things at once", obj()),
    ("test_input_required_result_multi_round", "Asks twice", obj()),
    ("test_input_required_result_tampered_state", "Asks a confirmation", obj()),
    ("test_input_required_result_capabilities", "Asks what the client declared", obj()),
    ("json_schema_2020_12_tool", "JSON Schema 2020-12 input", {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {"address": {"$anchor": "addressDef", "type": "object", "properties": {
            "street": {"type": "string"}, "city": {"type": "string"}}}},
        "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"},
                       "contactMethod": {"type": "string", "enum": ["phone", "email"]},
                       "phone": {"type": "string"}, "email": {"type": "string"}},
        "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
        "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
        "then": {"required": ["phone"]},
        "else": {"required": ["email"]},
        "additionalProperties": False,
    }),
    # A header-mirrored parameter (SEP-2243): clients send `Mcp-Param-Region`.
    ("test_custom_headers", "Echoes a region sent as a header too", obj(
        {"region": {"type": "string", "x-mcp-header": "Region"}, "note": {"type": "string"}}, ["region"])),
]


RESOURCES = {
    "test://static-text": ("text/plain", "This is the content of the static text resource.", None),
    "test://static-binary": ("image/png", None, IMAGE),
    "test://watched-resource": ("text/plain", "Watched resource content", None),
}

"""Sanitising of user text and the model C array (round trip to the exact bytes of the model)."""

from __future__ import annotations

import pytest

from tinyedge.errors import TinyedgeError
from tinyedge.project.carray import parse_c_array
from tinyedge.project.sanitize import arduino_name, c_identifier, c_string, model_names, one_line

HOSTILE = 'a"b*/c\n\\'


def test_identifiers_keep_only_c_characters():
    assert c_identifier("my model v2") == "my_model_v2"
    assert c_identifier("Modèle à 2 €") == "Mod_le_2"
    assert c_identifier("42 layers") == "_42_layers"
    assert c_identifier("int") == "int_"
    assert c_identifier("") == "model"
    assert c_identifier("日本") == "model"


def test_string_literal_escapes_everything_that_could_break_out():
    literal = c_string(HOSTILE)
    assert literal == '"a\\042b*/c\\012\\134"'
    assert c_string("??=") == '"\\077\\077="'          # no trigraph
    assert c_string("é") == '"\\303\\251"'              # the UTF-8 bytes, as octal escapes
    assert "\n" not in c_string("x\r\ny")


def test_names_for_the_protocol_arduino_and_single_line_fields():
    # A plain identifier is its own name; any other keeps its ASCII part plus 8 digits of its SHA-256
    # (hashlib.sha256("my model/v2 ✓".encode()).hexdigest()[:8], computed by hand for this test).
    assert model_names("digits").protocol == "digits"
    assert model_names("my model/v2 ✓").protocol == "my_model_v2_5f699c68"
    assert arduino_name("9 lives") == "m9_lives"
    assert one_line("two\nlines\tand\x00nul") == "two lines and nul"


def test_model_array_parses_back_to_exactly_the_model_bytes(model_case, model_bundle):
    """On the MLPerf Tiny kws model (../shared) and on the digits CNN made by the tests."""
    from tinyedge.project.render import _context, render_template, ProjectPlan
    from tinyedge.project.runtime import RuntimeChoice
    context = _context(model_bundle, _board("emu-m4"), ProjectPlan("cmake", RuntimeChoice("tflm", "test"),
                                                                   tflm=_tflm_plan()))
    source = render_template("common/model_data.cc.j2", context)
    symbol = f"tinyedge_{model_case.key}_model_data"
    assert f"alignas(16) const unsigned char {symbol}[] = {{" in source
    assert f"const unsigned int {symbol}_len = {len(model_case.model_bytes)};" in source
    assert parse_c_array(source, symbol) == model_case.model_bytes


@pytest.mark.parametrize("names", [("my model", "my_model"), ("my model", "my-model"),
                                   ("a/b", "a b"), ("模型", "模型-ñ"), ("int", "int_")])
def test_different_names_never_share_a_protocol_or_c_name(names):
    first, second = (model_names(name) for name in names)
    assert first.protocol != second.protocol and first.c_name != second.c_name


@pytest.mark.parametrize("name", ["my model", 'my "model" v2', "x */ int evil; /*", "模型-ñ", "x" * 200])
def test_every_name_maps_into_the_protocol_alphabet(name):
    import re
    names = model_names(name)
    assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,47}", names.protocol), names.protocol
    assert names.c_name == names.protocol


def test_a_damaged_array_is_reported():
    source = "alignas(16) const unsigned char m[] = {0x01, 0x02};\nconst unsigned int m_len = 3;\n"
    with pytest.raises(TinyedgeError, match="array 'm' holds 2 bytes but its length constant says 3"):
        parse_c_array(source, "m")
    with pytest.raises(TinyedgeError, match="no array 'x' in the C source"):
        parse_c_array(source, "x")


def _board(name):
    from tinyedge.boards import Catalogue
    return Catalogue.load().get(name)


def _tflm_plan():
    from tinyedge.project.render import TflmPlan
    return TflmPlan(methods=["AddConv2D"], tested_bytes=1000, arena_bytes=1104, margin=0.1)

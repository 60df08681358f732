"""The parameter structs' one definition (tinyedge/codegen/params.py): the committed kernel header is
what the definitions render, a forgotten or mistyped member fails at generation time, and the flash
figures count each typed array by its C type."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tinyedge.codegen import KERNEL_DIR, KERNEL_HEADER
from tinyedge.codegen.kernel_header import header_with_typedefs
from tinyedge.codegen.params import (INT8, INT32, REQUANT, STRUCTS, ConstArray, PadParams, PoolParams,
                                     QuantizeParams)

POOL = dict(batches=1, input_height=4, input_width=4, depth=2, output_height=2, output_width=2,
            filter_height=2, filter_width=2, stride_height=2, stride_width=2, pad_height=0, pad_width=0,
            activation_min=-128, activation_max=127)


def test_the_committed_header_is_what_the_definitions_render():
    header = (KERNEL_DIR / KERNEL_HEADER).read_text()
    assert header_with_typedefs(header) == header, \
        "firmware/native/tinyedge_native.h is stale: run python -m tinyedge.codegen.kernel_header"
    for struct in STRUCTS:
        assert f"}} {struct.C_NAME};\n" in header
    # A hand edit inside a generated typedef is undone; a typedef without its definition is refused.
    edited = header.replace("    int32_t kept_rank;", "    int32_t kept_rank, extra;", 1)
    assert edited != header and header_with_typedefs(edited) == header
    start = header.index("/* te_params: te_pool_params")
    with pytest.raises(ValueError, match="te_pool_params"):
        header_with_typedefs(header[:start] + header[header.index("} te_pool_params;\n") + 18:])


def test_a_forgotten_member_is_an_error_not_a_zero():
    PoolParams(**POOL)
    missing = {k: v for k, v in POOL.items() if k != "activation_max"}
    with pytest.raises(TypeError, match="activation_max"):
        PoolParams(**missing)
    with pytest.raises(TypeError, match="te_quantize_params.scale takes a float"):
        QuantizeParams(size=4, input_zero_point=0, output_zero_point=0, multiplier=0, shift=0, scale=1)
    with pytest.raises(ValueError, match="te_pad_params.pad_value"):
        PadParams(rank=1, input_dims=[4], before=[1], after=[1], pad_value=128)
    with pytest.raises(TypeError, match="at most 6"):
        PadParams(rank=7, input_dims=[1] * 7, before=[0] * 7, after=[0] * 7, pad_value=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        PoolParams(**POOL).batches = 2


def test_array_bytes_come_from_the_c_type():
    assert ConstArray("a", INT32, np.arange(12)).nbytes == 48
    assert ConstArray("w", INT8, np.zeros(1000)).nbytes == 1000
    assert ConstArray("r", REQUANT, [(1, 2, 3, 4)] * 3).nbytes == 48
    assert ConstArray("e", INT32, np.zeros(0)).nbytes == 4          # declared as one zero element
    with pytest.raises(ValueError, match="outside int8_t"):
        ConstArray("w", INT8, [127, 128])


@pytest.mark.parametrize("name", ["add_residual_relu", "concat_channels_and_width", "float_io_cnn"])
def test_kernel_calls_are_what_the_invoke_function_calls(zoo, name):
    """footprint's per-call figures read GeneratedRuntime.kernel_calls: the printed C is the oracle."""
    import re

    from tinyedge.codegen import generate
    from tinyedge.tflite.model import load
    generated = generate(load(zoo[name]))
    source = generated.files["tinyedge_model.c"]
    body = source[source.index("int tinyedge_invoke_multi("):]
    assert generated.kernel_calls == re.findall(r"\b(te_[a-z0-9_]+)\(", body)
    assert len(generated.kernel_calls) == body.count("TE_STEP_DONE(")

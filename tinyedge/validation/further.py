"""The further models of a firmware (`[[model]]`, `--model`) on the device: each selected over the
protocol (`te-select`), sent seeded random int8 inputs, and every output byte compared with the host
TFLM interpreter's. The project's own model is validated on its test split as before; these have no
test data, so agreement with TFLM is what they are measured by."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..device.protocol import DeviceClient
from ..errors import TinyedgeError

# More random inputs than this prove little more about bit-exactness and cost a validation's time.
MOST_SAMPLES = 16


@dataclass
class FurtherModelResult:
    name: str
    sha256: str
    samples: int                        # inputs sent
    equal: int                          # of them, outputs identical to host TFLM's, byte for byte
    disagreeing_samples: list[int] = field(default_factory=list)

    @property
    def agreement(self) -> float:
        return self.equal / self.samples if self.samples else 0.0

    def row(self) -> tuple[str, str]:
        """The validation summary's row: ("ad01", "16/16 equal TFLM")."""
        return self.name, f"{self.equal}/{self.samples} equal TFLM"

    def to_json(self) -> dict:
        return {**asdict(self), "agreement": self.agreement}


def sample_count(samples: int) -> int:
    """Inputs each further model gets: as many as the project's model, at most MOST_SAMPLES."""
    return max(1, min(samples, MOST_SAMPLES))


def random_inputs(model_bytes: bytes, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` seeded random int8 inputs over the whole int8 range and host TFLM's outputs for them,
    one row of output bytes each."""
    from ..tflite.tflm import TflmRunner
    runner = TflmRunner(model_bytes)
    inputs = np.random.default_rng(seed).integers(-128, 128, size=(count, *runner.input.shape[1:]),
                                                  dtype=np.int8)
    outputs = np.stack([np.ascontiguousarray(runner.run(inputs[i:i + 1])[0]).view(np.uint8).reshape(-1)
                        for i in range(count)])
    return inputs, outputs


def check_further_models(client: DeviceClient, models: list[dict], samples: int,
                         seed: int = 0) -> list[FurtherModelResult]:
    """Each model of `models` (the build's record: name, sha256, path) selected and checked on
    `sample_count(samples)` random inputs; the first model of the firmware is selected again after."""
    count = sample_count(samples)
    first = client.models()[0] if models else None
    results = []
    main_output_bytes = client.output_bytes
    try:
        for number, model in enumerate(models, start=1):
            path = Path(model["path"])
            if not path.is_file():
                raise TinyedgeError(f"model '{model['name']}' of the firmware: {path} does not exist",
                                    "build again ('tinyedge build') with its [[model]] path fixed")
            model_bytes = path.read_bytes()
            identity = client.select(model["name"])
            if not model["sha256"].startswith(identity.sha256) or len(identity.sha256) < 16:
                raise TinyedgeError(f"the device's model '{model['name']}' is not the build's (sha256 "
                                    f"{identity.sha256[:16]}, expected {model['sha256'][:16]})",
                                    "flash the firmware built for this project ('tinyedge flash')")
            inputs, expected = random_inputs(model_bytes, count, seed + number)
            client.output_bytes = expected.shape[1]
            disagreeing = [index for index in range(count)
                           if client.run_sample(inputs[index].tobytes()).output != expected[index].tobytes()]
            results.append(FurtherModelResult(model["name"], model["sha256"], count, count - len(disagreeing),
                                              disagreeing))
    finally:
        client.output_bytes = main_output_bytes
    if first is not None:
        client.select(first)
    return results

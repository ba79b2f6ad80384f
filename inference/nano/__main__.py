"""`python -m inference.nano train --out DIR`: train gpt-oss-nano from scratch (fixed seed).

`train --extra FILE` adds the rows of a file `manage.py export_transcripts` wrote (exported
turns, trained on their loss masks) to the corpus; without it the corpus is the recipe's.
`data --out FILE` renders the corpus once (numpy .npz) so that training elsewhere (a GPU
machine without openai-harmony) can read it with `train --corpus FILE`. `train --init DIR`
continues from a compact checkpoint (fine-tuning) on the same code path; `average A B --out DIR`
writes the mean of fine-tunes of one checkpoint (inference/nano/average.py); `grow DIR --layers N
--out NEW` writes it with more layers or wider experts, computing what it did (inference/nano/grow.py). `probe [--model DIR]`
prints the next-token error by kind of target token (capital letters of codes apart) on fresh
conversations, and how often the letter pairs of codes are written right after a quote.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

import torch

from .. import harmony
from . import train as training
from .corpus import Corpus, exported_examples
from .problems import Mix
from .recipe import Recipe


def boolean(text: str) -> bool:
    """`bool("false")` is True; a flag's value must say which it means."""
    words = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
    if text.lower() not in words:
        raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")
    return words[text.lower()]


def recipe_arguments(parser: argparse.ArgumentParser) -> None:
    for field in dataclasses.fields(Recipe):
        kind = boolean if isinstance(field.default, bool) else type(field.default)
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=kind,
                            default=field.default, help=f"default {field.default}")


def recipe_from(args) -> Recipe:
    return Recipe(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Recipe)})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.nano", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train from scratch and write a compact checkpoint")
    train.add_argument("--out", required=True, help="folder for the checkpoint")
    train.add_argument("--corpus", help="a corpus rendered by `data` (default: render now)")
    train.add_argument("--device", default="cpu")
    train.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    train.add_argument("--init", help="start from this compact checkpoint (fine-tuning)")
    train.add_argument("--save-every", type=int, default=0, help="also save every N steps")
    train.add_argument("--extra", action="append", default=[], metavar="FILE",
                       help="JSONL rows of export_transcripts (harmony or tokens) to train on too")
    recipe_arguments(train)
    data = sub.add_parser("data", help="render the training corpus to an .npz file")
    data.add_argument("--out", required=True)
    data.add_argument("--seed", type=int, default=Recipe.seed)
    data.add_argument("--examples", type=int, default=Recipe.examples)
    for field in dataclasses.fields(Mix):  # the recipe's defaults, as `train` renders
        data.add_argument(f"--{field.name.replace('_', '-')}", type=float,
                          default=getattr(Recipe, field.name))
    probe = sub.add_parser("probe", help="next-token error by kind of target token, on fresh conversations")
    probe.add_argument("--model", help="compact checkpoint folder (default: the shipped one)")
    probe.add_argument("--conversations", type=int, default=1000,
                       help="default 1000 (about 600 capital-letter targets; 192 gave only about 120)")
    mean = sub.add_parser("average", help="average compact checkpoints fine-tuned from one (a model soup)")
    mean.add_argument("checkpoints", nargs="+", metavar="DIR")
    mean.add_argument("--weights", help="comma-separated, one per checkpoint (default: equal)")
    mean.add_argument("--out", required=True)
    more = sub.add_parser("grow", help="a checkpoint with more layers or wider experts, computing what it did")
    more.add_argument("checkpoint", metavar="DIR")
    more.add_argument("--layers", type=int, required=True)
    more.add_argument("--expert-hidden", type=int, required=True)
    more.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    command = "python -m inference.nano " + " ".join(argv if argv is not None else sys.argv[1:])

    def log(line: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True)

    if args.command == "data":
        started = time.time()
        mix = Mix(**{field.name: getattr(args, field.name) for field in dataclasses.fields(Mix)})
        Corpus.draw(args.seed, args.examples, mix).save(args.out)
        log(f"wrote {args.out}: {args.examples} conversations in {time.time() - started:.0f}s")
        return 0
    if args.command == "probe":
        from . import checkpoint, probe as probing

        model_dir = args.model or checkpoint.DEFAULT_PATH
        print(probing.table(probing.probe(model_dir, args.conversations)))
        codes = probing.code_pairs(model_dir)
        print(f"letter pairs of codes written after a quote (teacher-forced, {codes['pairs']}): "
              f"{codes['right']} right, median rank {codes['median_rank']}")
        return 0
    if args.command == "average":
        from .average import average
        from .checkpoint import CheckpointError

        try:
            weights = ([float(w) for w in args.weights.split(",")] if args.weights
                       else [1.0] * len(args.checkpoints))
            average(args.checkpoints, weights, args.out, command)
        except (ValueError, CheckpointError) as error:
            parser.error(f"average: {error}")
        log(f"wrote {args.out}: the average of {', '.join(args.checkpoints)}")
        return 0
    if args.command == "grow":
        from .checkpoint import CheckpointError
        from .grow import grow

        try:
            grow(args.checkpoint, args.out, args.layers, args.expert_hidden, command)
        except CheckpointError as error:
            parser.error(f"grow: {error}")
        log(f"wrote {args.out}: {args.checkpoint} with {args.layers} layers, experts {args.expert_hidden} wide")
        return 0
    torch.set_num_threads(args.threads)
    recipe = recipe_from(args)
    corpus = Corpus.load(args.corpus) if args.corpus else None
    model = None
    provenance = {"command": command}
    if args.init:
        from .checkpoint import load_compact, read_meta, widened

        model, used_ids = load_compact(args.init)
        provenance["started_from"] = read_meta(args.init).get("info", {})
    if args.extra:
        try:
            extra = [(path, exported_examples(path)) for path in args.extra]
        except (OSError, harmony.RenderError) as error:
            parser.error(f"--extra: {error}")
        corpus = (corpus or Corpus.draw(recipe.seed, recipe.examples, recipe.mix)).extended(
            [e for _, rows in extra for e in rows], [{"file": path, "rows": len(rows)} for path, rows in extra])
    if args.init:
        corpus = corpus or Corpus.draw(recipe.seed, recipe.examples, recipe.mix)
        if corpus.used_ids != used_ids:
            # a broader corpus (a wider mix, --extra rows) brings tokens the checkpoint never
            # saw: they get rows of their own
            wider = sorted(set(used_ids) | set(corpus.used_ids))
            if wider != used_ids:
                model, used_ids = widened(model, used_ids, wider), wider
            corpus = corpus.mapped_to(used_ids)
        model = model.to(args.device)
    training.train(args.out, recipe, corpus=corpus, device=args.device, log=log,
                   model=model, save_every=args.save_every, provenance=provenance)
    return 0


if __name__ == "__main__":
    sys.exit(main())

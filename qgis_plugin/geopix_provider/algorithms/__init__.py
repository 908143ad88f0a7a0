"""The geopix algorithms, one module each; :data:`ALGORITHMS` is what the provider registers."""

from .evaluate import Evaluate
from .info import Info
from .inpaint import Inpaint
from .merge import Merge
from .train import Train
from .translate import Translate
from .translate_layout import TranslateLayout

ALGORITHMS = (Translate, Inpaint, TranslateLayout, Evaluate, Merge, Train, Info)

__all__ = ["ALGORITHMS", "Evaluate", "Info", "Inpaint", "Merge", "Train", "Translate", "TranslateLayout"]

"""One file per method, each readable top to bottom like the paper's algorithm box."""

from ssl_teach.methods.base import Batch, Method
from ssl_teach.methods.fixmatch import FixMatch
from ssl_teach.methods.mean_teacher import MeanTeacher
from ssl_teach.methods.mixmatch import MixMatch, MixMatchWithoutMixUp
from ssl_teach.methods.pi_model import PiModel, TemporalEnsembling
from ssl_teach.methods.pseudo_label import PseudoLabel
from ssl_teach.methods.selfmatch import SelfMatch
from ssl_teach.methods.simclr import SimCLR
from ssl_teach.methods.simmatch import SimMatch, SimMatchConstantEMA
from ssl_teach.methods.supervised import Supervised, SupervisedPoolStatistics

__all__ = ["Batch", "FixMatch", "MeanTeacher", "Method", "MixMatch", "MixMatchWithoutMixUp", "PiModel", "PseudoLabel",
           "SelfMatch", "SimCLR", "SimMatch", "SimMatchConstantEMA", "Supervised", "SupervisedPoolStatistics",
           "TemporalEnsembling"]

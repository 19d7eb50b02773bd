"""seqgan: Sequence Generative Adversarial Nets with Policy Gradient (Yu et al., AAAI 2017)."""

from seqgan.config import Config, load_config, preset
from seqgan.data import Corpus, Vocabulary, load_corpus, tokenize
from seqgan.discriminator import Discriminator
from seqgan.errors import CheckpointError, ConfigError, DataError, SeqGANError, TrainingDiverged
from seqgan.generator import Generator, LSTMPolicy
from seqgan.methods import METHODS, Method, PolicyGradientMethod
from seqgan.metrics import BleuScorer, self_bleu, text_metrics
from seqgan.oracle import Oracle, nll_oracle, read_token_file
from seqgan.policy_gradient import pg_loss
from seqgan.rollout import Rollout, batched_rewards, naive_rewards
from seqgan.run import load_generator, load_vocabulary, train
from seqgan.train import SeqGANTrainer

__version__ = "0.1.0"
__all__ = ["Config", "load_config", "preset", "Discriminator", "Generator", "LSTMPolicy", "Oracle", "nll_oracle",
           "read_token_file", "pg_loss", "Rollout", "batched_rewards", "naive_rewards", "SeqGANTrainer", "train",
           "load_generator", "load_vocabulary", "Corpus", "Vocabulary", "load_corpus", "tokenize", "BleuScorer", "self_bleu",
           "text_metrics", "SeqGANError", "ConfigError", "CheckpointError", "DataError", "TrainingDiverged", "METHODS", "Method",
           "PolicyGradientMethod"]

"""seqgan: Sequence Generative Adversarial Nets with Policy Gradient (Yu et al., AAAI 2017)."""

from seqgan.config import Config, load_config, preset
from seqgan.discriminator import Discriminator
from seqgan.errors import CheckpointError, ConfigError, DataError, SeqGANError, TrainingDiverged
from seqgan.generator import Generator, LSTMPolicy
from seqgan.oracle import Oracle, nll_oracle, read_token_file
from seqgan.policy_gradient import pg_loss
from seqgan.rollout import Rollout, batched_rewards, naive_rewards
from seqgan.run import load_generator, train
from seqgan.train import SeqGANTrainer

__version__ = "0.1.0"
__all__ = ["Config", "load_config", "preset", "Discriminator", "Generator", "LSTMPolicy", "Oracle", "nll_oracle",
           "read_token_file", "pg_loss", "Rollout", "batched_rewards", "naive_rewards", "SeqGANTrainer", "train",
           "load_generator", "SeqGANError", "ConfigError", "CheckpointError", "DataError", "TrainingDiverged"]

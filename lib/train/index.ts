/** Training: the Trainer, evaluation, checkpoints and the safetensors format. */
export { evaluate, tokensPerByte, Trainer } from './trainer.js';
export type { EvalMetrics, EvaluateOptions, StepMetrics, TrainerOptions, TrainResult } from './trainer.js';
export { checkpointName, loadCheckpoint, loadModel, resolveCheckpoint, saveCheckpoint } from './checkpoint.js';
export type { LoadedCheckpoint, SaveCheckpointOptions, TrainerState } from './checkpoint.js';
export { decodeSafetensors, encodeSafetensors, fromSafeTensor, readSafetensors, toSafeTensor, writeSafetensorsFile } from './safetensors.js';
export type { SafeDType, SafeTensor, SafetensorsFile } from './safetensors.js';

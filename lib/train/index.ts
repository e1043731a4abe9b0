/** Training: the Trainer, evaluation, checkpoints and the safetensors format. */
export { estimateTrainingMemory, evaluate, runFootprint, tokensPerByte, Trainer } from './trainer.js';
export type { DistributedInfo, EvalMetrics, EvaluateOptions, RunFootprint, StepMetrics, TrainerOptions, TrainingMemoryEstimate, TrainResult } from './trainer.js';
export { checkpointName, cleanStaleTemporaries, loadCheckpoint, loadModel, nonFiniteWeights, resolveCheckpoint, saveCheckpoint } from './checkpoint.js';
export type { LoadedCheckpoint, SaveCheckpointOptions, TrainerState } from './checkpoint.js';
export { decodeSafetensors, encodeSafetensors, fromSafeTensor, readSafetensors, toSafeTensor, writeSafetensorsFile } from './safetensors.js';
export type { SafeDType, SafeTensor, SafetensorsFile } from './safetensors.js';

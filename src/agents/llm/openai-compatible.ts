/** A chat model on any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, LM Studio, llama.cpp's server). */
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import type { LanguageModel } from 'ai';

export interface OpenAICompatibleModelOptions {
  /** Such as http://127.0.0.1:11434/v1 (Ollama) or https://api.openai.com/v1. */
  baseURL: string;
  model: string;
  apiKey?: string;
}

export function openAICompatibleModel(options: OpenAICompatibleModelOptions): LanguageModel {
  return createOpenAICompatible({
    name: 'openai-compatible',
    baseURL: options.baseURL,
    ...(options.apiKey && { apiKey: options.apiKey }),
    // Token usage arrives in the stream's last chunk only when asked for.
    includeUsage: true,
  }).chatModel(options.model);
}

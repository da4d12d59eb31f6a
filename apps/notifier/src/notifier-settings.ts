import type { CommonConfig, NotifierConfig, notifierEnv } from '@switchboard/config';

/** The notifier's settings, whichever process runs it. */
export type NotifierSettings = CommonConfig & Pick<NotifierConfig, keyof typeof notifierEnv>;

/**
 * The notifier's settings from the running process's config. The notifier's own schema
 * and the single process's (which spreads `notifierEnv`) both validated these variables,
 * so reading them by name is safe.
 */
export function notifierSettings(config: CommonConfig): NotifierSettings {
  return config as NotifierSettings;
}

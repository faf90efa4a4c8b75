//! `prova completions SHELL` and `prova man`: shell completions and the manual page, generated from the command
//! line's own definition, so they cannot drift from it.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, CommandFactory};
use clap_complete::Shell;

use crate::Cli;

/// Arguments of `prova completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell. For example `prova completions bash >
    /// ~/.local/share/bash-completion/completions/prova`.
    pub shell: Shell,
}

impl CompletionsArgs {
    /// Writes the completion script to stdout.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let mut command = Cli::command();
        let mut out = Vec::new();
        clap_complete::generate(self.shell, &mut command, "prova", &mut out);
        print_all(&out)
    }
}

/// Arguments of `prova man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write one page per command (`prova.1`, `prova-model-publish.1`, ...) into this folder instead of the main
    /// page to stdout. For example `prova man --out-dir ~/.local/share/man/man1`.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

impl ManArgs {
    /// Writes the manual page (roff) to stdout, or every command's page into `--out-dir`.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let command = Cli::command();
        match self.out_dir {
            None => {
                let mut out = Vec::new();
                clap_mangen::Man::new(command).render(&mut out).context("rendering the manual page")?;
                return print_all(&out);
            }
            Some(dir) => {
                std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
                clap_mangen::generate_to(command, &dir)
                    .with_context(|| format!("cannot write the manual pages into {}", dir.display()))?;
                eprintln!("wrote the manual pages into {}", dir.display());
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// Writes `bytes` to stdout; a reader that stops early (`| head`) is not an error.
fn print_all(bytes: &[u8]) -> anyhow::Result<ExitCode> {
    match std::io::stdout().lock().write_all(bytes) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error).context("writing to stdout"),
        _ => Ok(ExitCode::SUCCESS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shell's script names every subcommand, and the manual page documents them.
    #[test]
    fn completions_and_the_manual_cover_every_command() {
        let names: Vec<String> = Cli::command().get_subcommands().map(|c| c.get_name().to_owned()).collect();
        assert!(names.len() >= 10, "{names:?}");
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "prova", &mut out);
            let script = String::from_utf8(out).unwrap();
            for name in &names {
                assert!(script.contains(name.as_str()), "{shell} completions lack {name}");
            }
        }
        let mut page = Vec::new();
        clap_mangen::Man::new(Cli::command()).render(&mut page).unwrap();
        let page = String::from_utf8(page).unwrap();
        assert!(page.starts_with(".ie") || page.contains(".TH prova"), "{}", &page[..200.min(page.len())]);
        for name in &names {
            assert!(page.contains(name.as_str()), "the manual page lacks {name}");
        }
        let dir = tempfile::tempdir().unwrap();
        ManArgs { out_dir: Some(dir.path().to_owned()) }.run().unwrap();
        assert!(dir.path().join("prova-model-publish.1").exists());
    }

    /// `--help` shows an environment variable's value next to its flag unless told not to: no flag read from a
    /// variable that can hold a secret (a URL with a key or a password, a key, a token) may show it.
    #[test]
    fn help_never_shows_a_secret_from_the_environment() {
        fn walk(command: &clap::Command, path: &str, leaks: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let Some(env) = arg.get_env().and_then(|e| e.to_str()) else { continue };
                let secret = ["URL", "KEY", "PASSWORD", "TOKEN", "SECRET"].iter().any(|word| env.contains(word));
                if secret && !arg.is_hide_env_values_set() {
                    leaks.push(format!("{path} --{} ({env})", arg.get_id()));
                }
            }
            for sub in command.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), leaks);
            }
        }
        let mut leaks = Vec::new();
        walk(&Cli::command(), "prova", &mut leaks);
        assert!(leaks.is_empty(), "add hide_env_values = true to: {leaks:?}");
    }
}

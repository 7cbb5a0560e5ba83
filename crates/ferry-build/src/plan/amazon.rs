//! App Runner's runtimes are Amazon Linux, so AWS's samples install packages with `yum` and
//! `amazon-linux-extras`. ferry's default runtime images are the languages' public images (Debian),
//! which have neither: such a command fails there with `yum: not found`. The build goes ahead (the
//! server may have been given an Amazon Linux image, or the command may be guarded), but the log says
//! why it may fail and what to do, before the engine starts.

use super::Step;

/// Package tools that exist only on Amazon Linux (and its relatives), not on Debian.
const AMAZON_TOOLS: &[&str] = &["yum", "dnf", "amazon-linux-extras"];

/// A warning for each command that runs an Amazon Linux package tool when `image` is not an Amazon
/// Linux image.
pub(super) fn warnings(steps: &[Step], runtime: &str, image: &str) -> Vec<String> {
    if is_amazon_linux(image) {
        return Vec::new();
    }
    steps
        .iter()
        .filter_map(|step| {
            let tool = tool_in(&step.command)?;
            Some(format!(
                "{phase} runs {tool} (`{command}`), but the {runtime} image here is {image}, which is not Amazon \
                 Linux as App Runner's is, so the command will likely fail with `{tool}: not found`. Use \
                 apt-get instead (`apt-get update && apt-get install -y PACKAGE`; names may differ), or have the \
                 server build {runtime} on an Amazon Linux based image (ferry server --runtime-image \
                 {runtime}=IMAGE)",
                phase = step.phase,
                command = step.command.trim().replace('\n', " "),
            ))
        })
        .collect()
}

/// Amazon Linux images by name: `amazonlinux:2023`, `public.ecr.aws/amazonlinux/…`, and Amazon
/// Corretto's default tags (built on Amazon Linux; not its `-alpine`/`-debian` ones).
fn is_amazon_linux(image: &str) -> bool {
    let image = image.to_ascii_lowercase();
    image.contains("amazonlinux")
        || (image.contains("amazoncorretto") && !image.contains("alpine") && !image.contains("debian"))
}

/// The first Amazon Linux package tool run as a command word (`sudo yum`, `/usr/bin/yum`), not as
/// part of another word (`yummy`) .
fn tool_in(command: &str) -> Option<&'static str> {
    command
        .split(|c: char| {
            c.is_whitespace() || matches!(c, ';' | '&' | '|' | '(' | ')' | '`' | '$' | '"' | '\'')
        })
        .map(|word| word.rsplit('/').next().unwrap_or(word))
        .find_map(|word| AMAZON_TOOLS.iter().find(|t| **t == word).copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amazon_linux_package_tools_are_found_as_command_words_only() {
        let cases = [
            ("yum install -y gcc", Some("yum")),
            ("sudo yum -y install libpq-devel", Some("yum")),
            ("amazon-linux-extras install -y nginx1", Some("amazon-linux-extras")),
            ("cd x && /usr/bin/yum install -y jq", Some("yum")),
            ("dnf install -y git", Some("dnf")),
            ("(yum makecache)", Some("yum")),
            ("echo yummy", None),
            ("pip install yum-config", None),
            ("apt-get update && apt-get install -y gcc", None),
        ];
        for (command, want) in cases {
            assert_eq!(tool_in(command), want, "{command}");
        }
    }

    #[test]
    fn a_yum_command_warns_unless_the_image_is_amazon_linux() {
        let steps = [
            Step { phase: "pre-build", command: "yum install -y gcc".into() },
            Step { phase: "build", command: "pip install -r requirements.txt".into() },
        ];
        let w = warnings(&steps, "python311", "python:3.11-slim");
        assert_eq!(w.len(), 1, "{w:?}");
        for words in ["pre-build runs yum", "python:3.11-slim", "apt-get", "--runtime-image python311=IMAGE"]
        {
            assert!(w[0].contains(words), "{words}: {}", w[0]);
        }
        for image in ["amazonlinux:2023", "public.ecr.aws/amazonlinux/amazonlinux:2", "amazoncorretto:11"] {
            assert!(warnings(&steps, "python311", image).is_empty(), "{image}");
        }
        assert_eq!(warnings(&steps, "corretto11", "amazoncorretto:11-alpine").len(), 1);
    }
}

//! `SourceConfiguration.CodeRepository`: a git repository to build from, on ferry's code sources.
//!
//! `ConfigurationSource` `REPOSITORY` reads the repository as App Runner does (`apprunner.yaml` first; ferry
//! also builds a Dockerfile or a detected language) and, as there, ignores `CodeConfigurationValues`.
//! `API` takes the runtime, commands, port, variables and secrets from `CodeConfigurationValues`.
//! `CodeConfiguration` is required by `CreateService` only: an `UpdateService` that leaves it out keeps
//! the service's; one that gives it replaces it whole (values it leaves out take their defaults), as an
//! `ImageConfiguration` does.

use ferry_model::{
    Builder, CodeConfiguration, CodeRuntime, CodeSource, ImageConfiguration, normalize_directory,
};
use serde_json::Value;

use crate::configure::configuration_values;
use crate::error::AwsError;
use crate::operations::{object, required, string};

const BASE: &str = "SourceConfiguration.CodeRepository";

/// A `CodeRepository` as given, checked member by member; not yet on a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CodeInput {
    repository: String,
    branch: String,
    /// `Some`: given (`None` inside: the repository's root).
    source_directory: Option<Option<String>>,
    /// `Some`: given.
    configuration: Option<(CodeConfiguration, ImageConfiguration)>,
}

impl CodeInput {
    pub(crate) fn parse(repo: &Value) -> Result<Self, AwsError> {
        let url = required(repo, "RepositoryUrl", &format!("{BASE}.RepositoryUrl"))?.trim();
        ferry_model::check_repository(url)
            .map_err(|e| AwsError::member(&format!("{BASE}.RepositoryUrl"), e.message))?;
        let version_path = format!("{BASE}.SourceCodeVersion");
        let version = object(repo, "SourceCodeVersion", &version_path)?
            .ok_or_else(|| AwsError::member(&version_path, "is required"))?;
        match required(version, "Type", &format!("{version_path}.Type"))? {
            "BRANCH" => {}
            other => {
                return Err(AwsError::member(
                    &format!("{version_path}.Type"),
                    format!("{other:?} is not one of BRANCH"),
                ));
            }
        }
        let branch = required(version, "Value", &format!("{version_path}.Value"))?;
        ferry_model::check_branch(branch)
            .map_err(|e| AwsError::member(&format!("{version_path}.Value"), e.message))?;
        let source_directory = string(repo, "SourceDirectory", &format!("{BASE}.SourceDirectory"))?
            .map(normalize_directory)
            .transpose()
            .map_err(|e| AwsError::member(&format!("{BASE}.SourceDirectory"), e.message))?;
        let configuration = object(repo, "CodeConfiguration", &format!("{BASE}.CodeConfiguration"))?
            .map(code_configuration)
            .transpose()?;
        Ok(Self { repository: url.to_owned(), branch: branch.to_owned(), source_directory, configuration })
    }

    /// The source of a new service (`CreateService`), fetched with the connection named, if any.
    pub(crate) fn create(&self, connection: Option<&str>) -> Result<CodeSource, AwsError> {
        let Some((configuration, config)) = self.configuration.clone() else {
            return Err(AwsError::member(&format!("{BASE}.CodeConfiguration"), "is required"));
        };
        Ok(CodeSource {
            repository: self.repository.clone(),
            branch: self.branch.clone(),
            source_directory: self.source_directory.clone().flatten(),
            configuration,
            config,
            credentials: None,
            connection: connection.map(str::to_owned),
            // App Runner's default for a code repository.
            auto_deploy: true,
        })
    }

    /// Puts the input over a service's code source (`UpdateService`). A connection given replaces the
    /// connection or the credentials the source had; none given keeps them.
    pub(crate) fn apply(&self, code: &mut CodeSource, connection: Option<&str>) {
        code.repository.clone_from(&self.repository);
        code.branch.clone_from(&self.branch);
        if let Some(dir) = &self.source_directory {
            code.source_directory.clone_from(dir);
        }
        if let Some((configuration, config)) = &self.configuration {
            code.configuration = configuration.clone();
            code.config = config.clone();
        }
        if let Some(name) = connection {
            code.connection = Some(name.to_owned());
            code.credentials = None;
        }
    }
}

fn code_configuration(cc: &Value) -> Result<(CodeConfiguration, ImageConfiguration), AwsError> {
    let path = format!("{BASE}.CodeConfiguration");
    match required(cc, "ConfigurationSource", &format!("{path}.ConfigurationSource"))? {
        // As App Runner does, the values are ignored: the repository's files say.
        "REPOSITORY" => {
            Ok((CodeConfiguration::Repository { builder: Builder::Auto }, ImageConfiguration::default()))
        }
        "API" => {
            let path = format!("{path}.CodeConfigurationValues");
            let values = object(cc, "CodeConfigurationValues", &path)?
                .ok_or_else(|| AwsError::member(&path, "is required when ConfigurationSource is API"))?;
            let runtime = required(values, "Runtime", &format!("{path}.Runtime"))?;
            let runtime = CodeRuntime::parse(runtime).map_err(|_| {
                let all: Vec<&str> = CodeRuntime::ALL.iter().map(|r| r.api_name()).collect();
                AwsError::member(
                    &format!("{path}.Runtime"),
                    format!("{runtime:?} is not one of {}", all.join(", ")),
                )
            })?;
            let build_command = single_line(values, "BuildCommand", &path)?;
            let mut config = configuration_values(values, &path)?;
            config.start_command = single_line(values, "StartCommand", &path)?;
            Ok((CodeConfiguration::Api { runtime, build_command }, config))
        }
        other => Err(AwsError::member(
            &format!("{path}.ConfigurationSource"),
            format!("{other:?} is not one of REPOSITORY, API"),
        )),
    }
}

/// A command: one line (App Runner's pattern), blank as none.
fn single_line(values: &Value, member: &str, base: &str) -> Result<Option<String>, AwsError> {
    let path = format!("{base}.{member}");
    let Some(command) = string(values, member, &path)? else { return Ok(None) };
    if command.contains(['\n', '\r']) {
        return Err(AwsError::member(&path, "must be a single line"));
    }
    Ok(Some(command.trim().to_owned()).filter(|c| !c.is_empty()))
}

#[cfg(test)]
mod tests {
    use ferry_model::CodeRuntime;
    use serde_json::json;

    use super::*;
    use crate::configure;

    fn repo(configuration: Value) -> Value {
        json!({
            "RepositoryUrl": "https://github.com/o/r",
            "SourceCodeVersion": { "Type": "BRANCH", "Value": "main" },
            "SourceDirectory": "/services/api/",
            "CodeConfiguration": configuration,
        })
    }

    fn refused(input: Value) -> String {
        let e = CodeInput::parse(&input).and_then(|c| c.create(None)).unwrap_err();
        assert_eq!(e.code, "InvalidRequestException", "{e:?}");
        e.message
    }

    #[test]
    fn api_values_become_the_runtime_commands_port_variables_and_secrets() {
        let input = repo(json!({
            "ConfigurationSource": "API",
            "CodeConfigurationValues": {
                "Runtime": "PYTHON_311",
                "BuildCommand": "pip install -r requirements.txt",
                "StartCommand": "python3 app.py",
                "Port": "8000",
                "RuntimeEnvironmentVariables": { "MODE": "prod" },
                "RuntimeEnvironmentSecrets": { "DB": "arn:aws:secretsmanager:eu-west-1:1:secret:db-pass" },
            },
        }));
        let code = CodeInput::parse(&input).unwrap().create(Some("gh-main")).unwrap();
        assert_eq!(code.repository, "https://github.com/o/r");
        assert_eq!(code.branch, "main");
        assert_eq!(code.source_directory.as_deref(), Some("services/api"));
        assert_eq!(
            code.configuration,
            CodeConfiguration::Api {
                runtime: CodeRuntime::Python311,
                build_command: Some("pip install -r requirements.txt".into())
            }
        );
        assert_eq!(code.config.port, 8000);
        assert_eq!(code.config.start_command.as_deref(), Some("python3 app.py"));
        assert_eq!(code.config.env.get("MODE"), Some("prod"));
        assert_eq!(code.config.secrets.names(), vec![ferry_model::SecretName::parse("db-pass").unwrap()]);
        assert_eq!(code.connection.as_deref(), Some("gh-main"));
        assert!(code.auto_deploy && code.credentials.is_none());
        code.validate().unwrap();
    }

    #[test]
    fn repository_reads_the_repository_and_ignores_values() {
        let input = repo(json!({
            "ConfigurationSource": "REPOSITORY",
            "CodeConfigurationValues": { "Runtime": "NODEJS_18", "Port": "9000" },
        }));
        let code = CodeInput::parse(&input).unwrap().create(None).unwrap();
        assert_eq!(code.configuration, CodeConfiguration::Repository { builder: Builder::Auto });
        assert_eq!(code.config, ImageConfiguration::default());
        assert_eq!(code.connection, None);
    }

    #[test]
    fn missing_and_bad_members_are_named_by_their_full_path() {
        let mut no_version = repo(json!({ "ConfigurationSource": "REPOSITORY" }));
        no_version.as_object_mut().unwrap().remove("SourceCodeVersion");
        let cases = [
            (
                json!({ "SourceCodeVersion": { "Type": "BRANCH", "Value": "main" } }),
                "SourceConfiguration.CodeRepository.RepositoryUrl: is required",
            ),
            (no_version, "SourceConfiguration.CodeRepository.SourceCodeVersion: is required"),
            (
                json!({ "RepositoryUrl": "https://h/r", "SourceCodeVersion": { "Type": "TAG", "Value": "v1" } }),
                "SourceConfiguration.CodeRepository.SourceCodeVersion.Type: \"TAG\" is not one of BRANCH",
            ),
            (
                json!({ "RepositoryUrl": "https://h/r", "SourceCodeVersion": { "Type": "BRANCH" } }),
                "SourceConfiguration.CodeRepository.SourceCodeVersion.Value: is required",
            ),
            (
                json!({ "RepositoryUrl": "https://h/r", "SourceCodeVersion": { "Type": "BRANCH", "Value": "a..b" } }),
                "SourceConfiguration.CodeRepository.SourceCodeVersion.Value: \"a..b\" is not a valid git branch",
            ),
            (
                json!({ "RepositoryUrl": "-u evil", "SourceCodeVersion": { "Type": "BRANCH", "Value": "main" } }),
                "SourceConfiguration.CodeRepository.RepositoryUrl: \"-u evil\" is not a repository",
            ),
            (
                json!({ "RepositoryUrl": "https://h/r", "SourceCodeVersion": { "Type": "BRANCH", "Value": "main" } }),
                "SourceConfiguration.CodeRepository.CodeConfiguration: is required",
            ),
            (
                repo(json!({})),
                "SourceConfiguration.CodeRepository.CodeConfiguration.ConfigurationSource: is required",
            ),
            (
                repo(json!({ "ConfigurationSource": "FILE" })),
                "SourceConfiguration.CodeRepository.CodeConfiguration.ConfigurationSource: \"FILE\" is not one of REPOSITORY, API",
            ),
            (
                repo(json!({ "ConfigurationSource": "API" })),
                "SourceConfiguration.CodeRepository.CodeConfiguration.CodeConfigurationValues: is required when",
            ),
            (
                repo(json!({ "ConfigurationSource": "API", "CodeConfigurationValues": {} })),
                "SourceConfiguration.CodeRepository.CodeConfiguration.CodeConfigurationValues.Runtime: is required",
            ),
            (
                repo(
                    json!({ "ConfigurationSource": "API", "CodeConfigurationValues": { "Runtime": "PYTHON_2" } }),
                ),
                "SourceConfiguration.CodeRepository.CodeConfiguration.CodeConfigurationValues.Runtime: \"PYTHON_2\" is not one of PYTHON_3, PYTHON_311, NODEJS_12",
            ),
            (
                repo(json!({ "ConfigurationSource": "API",
                    "CodeConfigurationValues": { "Runtime": "GO_1", "BuildCommand": "go build\nrm -rf /" } })),
                "SourceConfiguration.CodeRepository.CodeConfiguration.CodeConfigurationValues.BuildCommand: must be a single line",
            ),
            (
                repo(json!({ "ConfigurationSource": "API",
                    "CodeConfigurationValues": { "Runtime": "GO_1", "Port": "http" } })),
                "SourceConfiguration.CodeRepository.CodeConfiguration.CodeConfigurationValues.Port: \"http\" is not a port",
            ),
            (
                json!({ "RepositoryUrl": "https://h/r", "SourceCodeVersion": { "Type": "BRANCH", "Value": "main" },
                    "SourceDirectory": "../etc", "CodeConfiguration": { "ConfigurationSource": "REPOSITORY" } }),
                "SourceConfiguration.CodeRepository.SourceDirectory: \"../etc\" leaves the repository",
            ),
        ];
        for (input, expected) in cases {
            let message = refused(input.clone());
            assert!(message.starts_with(expected), "{input}\n  gave {message}\n  want {expected}");
        }
    }

    #[test]
    fn an_update_replaces_what_it_gives_and_keeps_the_rest() {
        let made = repo(json!({
            "ConfigurationSource": "API",
            "CodeConfigurationValues": { "Runtime": "NODEJS_18", "BuildCommand": "npm ci", "Port": "3000" },
        }));
        let mut code = CodeInput::parse(&made).unwrap().create(None).unwrap();
        code.credentials =
            Some(ferry_model::GitCredentials::Basic { username: "u".into(), password: "p".into() });
        let update = json!({
            "RepositoryUrl": "https://github.com/o/other",
            "SourceCodeVersion": { "Type": "BRANCH", "Value": "release" },
        });
        CodeInput::parse(&update).unwrap().apply(&mut code, Some("gh-main"));
        assert_eq!(
            (code.repository.as_str(), code.branch.as_str()),
            ("https://github.com/o/other", "release")
        );
        assert_eq!(code.source_directory.as_deref(), Some("services/api"), "left out: kept");
        assert!(matches!(code.configuration, CodeConfiguration::Api { runtime: CodeRuntime::Nodejs18, .. }));
        assert_eq!(code.config.port, 3000, "no CodeConfiguration: kept");
        assert_eq!(code.connection.as_deref(), Some("gh-main"));
        assert!(code.credentials.is_none(), "a connection replaces the credentials");

        let mut update = update.clone();
        update["SourceDirectory"] = json!("/");
        update["CodeConfiguration"] = json!({ "ConfigurationSource": "REPOSITORY" });
        CodeInput::parse(&update).unwrap().apply(&mut code, None);
        assert_eq!(code.source_directory, None, "the root");
        assert_eq!(code.configuration, CodeConfiguration::Repository { builder: Builder::Auto });
        assert_eq!(code.config, ImageConfiguration::default(), "replaced whole");
        assert_eq!(code.connection.as_deref(), Some("gh-main"), "no connection given: kept");
    }

    #[test]
    fn a_service_cannot_switch_between_an_image_and_a_code_repository() {
        let code = json!({ "CodeRepository": repo(json!({ "ConfigurationSource": "REPOSITORY" })) });
        let image = json!({
            "ImageRepository": { "ImageIdentifier": "127.0.0.1:5000/web:v1", "ImageRepositoryType": "ECR_PUBLIC" },
            // Scripts for ECR always send a role; it means nothing to ferry.
            "AuthenticationConfiguration": { "AccessRoleArn": "arn:aws:iam::123456789012:role/ecr-access" },
        });
        let image_spec = configure::source(&image).unwrap().spec(None).unwrap();
        let code_spec = configure::source(&code).unwrap().spec(None).unwrap();
        assert!(code_spec.source.code().is_some_and(|c| c.auto_deploy), "App Runner's default for code");

        let mut source = image_spec.source.clone();
        let e = configure::source(&code).unwrap().apply(&mut source, None).unwrap_err();
        assert_eq!(e.code, "InvalidRequestException");
        assert!(
            e.message.starts_with("SourceConfiguration.CodeRepository: this service runs an image"),
            "{e:?}"
        );
        let mut source = code_spec.source.clone();
        let e = configure::source(&image).unwrap().apply(&mut source, None).unwrap_err();
        assert!(
            e.message.starts_with("SourceConfiguration.ImageRepository: this service builds from a code")
        );
        assert_eq!(source, code_spec.source, "a refused change leaves the source as it was");

        // The same kind is fine both ways.
        let mut source = code_spec.source.clone();
        let mut other = code.clone();
        other["CodeRepository"]["SourceCodeVersion"]["Value"] = json!("next");
        other["AutoDeploymentsEnabled"] = json!(false);
        configure::source(&other).unwrap().apply(&mut source, None).unwrap();
        assert_eq!(source.code().map(|c| (c.branch.as_str(), c.auto_deploy)), Some(("next", false)));
        let mut source = image_spec.source.clone();
        configure::source(&image).unwrap().apply(&mut source, None).unwrap();
    }

    #[test]
    fn a_source_is_one_repository_and_a_connection_is_for_code() {
        let code = repo(json!({ "ConfigurationSource": "REPOSITORY" }));
        let image = json!({ "ImageIdentifier": "127.0.0.1:5000/web:v1", "ImageRepositoryType": "ECR" });
        let both = json!({ "CodeRepository": code, "ImageRepository": image });
        let e = configure::source(&both).unwrap_err();
        assert!(e.message.starts_with("SourceConfiguration: give either ImageRepository or CodeRepository"));
        let e = configure::source(&json!({})).unwrap_err();
        assert_eq!(e.message, "SourceConfiguration.ImageRepository: is required");
        let arn = "arn:aws:apprunner:eu-west-1:000000000000:connection/gh-main/0123";
        let auth = json!({ "ConnectionArn": arn });
        let e = configure::source(&json!({ "ImageRepository": image, "AuthenticationConfiguration": auth }))
            .unwrap_err();
        assert!(
            e.message
                .starts_with("SourceConfiguration.AuthenticationConfiguration.ConnectionArn: a connection")
        );
        let given =
            configure::source(&json!({ "CodeRepository": code, "AuthenticationConfiguration": auth }))
                .unwrap();
        assert_eq!(given.connection_arn.as_deref(), Some(arn));
        let spec = given.spec(Some("gh-main")).unwrap();
        assert_eq!(spec.source.code().and_then(|c| c.connection.as_deref()), Some("gh-main"));
        assert_eq!(spec.connection(), Some("gh-main"));
    }
}

//! Package repositories built at test time, for the package modules' tests: real `.deb` files
//! made with `dpkg-deb` and indexed with `apt-ftparchive` (a flat apt repository), real RPMs
//! made with `rpmbuild` and indexed with `createrepo_c`, and a way to put a tree on a lab VM
//! (`tar` over the VM's SSH), where the repository is used as `file://`. Nothing is fetched.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::vm::Vm;

/// Host commands the Debian repository needs.
pub const DEB_COMMANDS: &[&str] = &["dpkg-deb", "apt-ftparchive", "tar"];
/// Host commands the RPM repository needs.
pub const RPM_COMMANDS: &[&str] = &["rpmbuild", "createrepo_c", "tar"];

/// One test package: a name, a version, dependencies, and files (path → content). A file under
/// `/etc` is a conffile of a `.deb` (`purge` removes it; `remove` keeps it).
#[derive(Debug, Clone, Default)]
pub struct TestPackage {
    pub name: String,
    pub version: String,
    pub depends: Vec<String>,
    pub recommends: Vec<String>,
    pub provides: Vec<String>,
    pub files: Vec<(String, String)>,
}

impl TestPackage {
    /// A package holding `/usr/share/NAME/VERSION` (so each version has a file of its own).
    pub fn new(name: &str, version: &str) -> TestPackage {
        TestPackage {
            name: name.into(),
            version: version.into(),
            files: vec![(format!("/usr/share/{name}/version"), format!("{version}\n"))],
            ..TestPackage::default()
        }
    }

    pub fn depends(mut self, names: &[&str]) -> Self {
        self.depends = names.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn recommends(mut self, names: &[&str]) -> Self {
        self.recommends = names.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn provides(mut self, names: &[&str]) -> Self {
        self.provides = names.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn file(mut self, path: &str, content: &str) -> Self {
        self.files.push((path.into(), content.into()));
        self
    }

    /// `NAME_VERSION_all.deb`.
    pub fn deb_name(&self) -> String {
        format!("{}_{}_all.deb", self.name, self.version)
    }

    /// Builds `NAME_VERSION_all.deb` into `out` with `dpkg-deb`.
    pub fn build_deb(&self, out: &Path) -> Result<PathBuf> {
        let work = tempfile::tempdir()?;
        let root = work.path().join("root");
        fs::create_dir_all(root.join("DEBIAN"))?;
        let mut control = format!(
            "Package: {}\nVersion: {}\nArchitecture: all\nMaintainer: hook-runner tests <tests@example.invalid>\nSection: misc\nPriority: optional\nDescription: hook-runner test package {}\n",
            self.name, self.version, self.name
        );
        for (field, list) in [
            ("Depends", &self.depends),
            ("Recommends", &self.recommends),
            ("Provides", &self.provides),
        ] {
            if !list.is_empty() {
                control.push_str(&format!("{field}: {}\n", list.join(", ")));
            }
        }
        fs::write(root.join("DEBIAN/control"), control)?;
        let mut conffiles = String::new();
        for (path, content) in &self.files {
            let target = root.join(path.trim_start_matches('/'));
            fs::create_dir_all(target.parent().expect("a file path has a parent"))?;
            fs::write(&target, content)?;
            if path.starts_with("/etc/") {
                conffiles.push_str(&format!("{path}\n"));
            }
        }
        if !conffiles.is_empty() {
            fs::write(root.join("DEBIAN/conffiles"), conffiles)?;
        }
        let deb = out.join(self.deb_name());
        run(Command::new("dpkg-deb")
            .args(["--root-owner-group", "-Zgzip", "--build"])
            .arg(&root)
            .arg(&deb))?;
        Ok(deb)
    }

    /// Builds `NAME-VERSION-1.noarch.rpm` into `out` with `rpmbuild` (a spec written here;
    /// the version's `-` part, if any, becomes the release).
    pub fn build_rpm(&self, out: &Path) -> Result<PathBuf> {
        let work = tempfile::tempdir()?;
        let (version, release) = match self.version.split_once('-') {
            Some((v, r)) => (v.to_string(), r.to_string()),
            None => (self.version.clone(), "1".to_string()),
        };
        let mut spec = format!(
            "Name: {}\nVersion: {version}\nRelease: {release}\nSummary: hook-runner test package\nLicense: MIT\nBuildArch: noarch\n",
            self.name
        );
        for dep in &self.depends {
            spec.push_str(&format!("Requires: {dep}\n"));
        }
        for dep in &self.recommends {
            spec.push_str(&format!("Recommends: {dep}\n"));
        }
        for p in &self.provides {
            spec.push_str(&format!("Provides: {p}\n"));
        }
        spec.push_str("\n%description\nhook-runner test package\n\n%install\n");
        for (i, (path, _)) in self.files.iter().enumerate() {
            let dir = Path::new(path).parent().expect("a file path has a parent");
            spec.push_str(&format!(
                "mkdir -p %{{buildroot}}{}\ncp %{{_sourcedir}}/f{i} %{{buildroot}}{path}\n",
                dir.display()
            ));
        }
        spec.push_str("\n%files\n");
        for (path, _) in &self.files {
            if path.starts_with("/etc/") {
                spec.push_str(&format!("%config(noreplace) {path}\n"));
            } else {
                spec.push_str(&format!("{path}\n"));
            }
        }
        let sources = work.path().join("SOURCES");
        fs::create_dir_all(&sources)?;
        for (i, (_, content)) in self.files.iter().enumerate() {
            fs::write(sources.join(format!("f{i}")), content)?;
        }
        let spec_path = work.path().join(format!("{}.spec", self.name));
        fs::write(&spec_path, spec)?;
        run(Command::new("rpmbuild")
            .arg("--define")
            .arg(format!("_topdir {}", work.path().display()))
            .args(["--define", "_build_id_links none"])
            .args(["--nodeps", "-bb"])
            .arg(&spec_path))?;
        let name = format!("{}-{version}-{release}.noarch.rpm", self.name);
        let built = work.path().join("RPMS/noarch").join(&name);
        let rpm = out.join(&name);
        fs::copy(&built, &rpm).with_context(|| format!("copying {}", built.display()))?;
        Ok(rpm)
    }
}

/// A flat apt repository in `dir` (`deb [trusted=yes] file:DIR ./` on the target): each
/// package built, then `Packages` and `Release` written by `apt-ftparchive`.
pub fn build_apt_repo(dir: &Path, packages: &[TestPackage]) -> Result<()> {
    fs::create_dir_all(dir)?;
    for package in packages {
        package.build_deb(dir)?;
    }
    let packages_index = output(
        Command::new("apt-ftparchive")
            .arg("packages")
            .arg(".")
            .current_dir(dir),
    )?;
    fs::write(dir.join("Packages"), packages_index)?;
    let release = output(
        Command::new("apt-ftparchive")
            .args(["-o", "APT::FTPArchive::Release::Origin=hook-runner-tests"])
            .arg("release")
            .arg(".")
            .current_dir(dir),
    )?;
    fs::write(dir.join("Release"), release)?;
    Ok(())
}

/// An RPM repository in `dir` (`baseurl=file://DIR`, `gpgcheck=0` on the target): each package
/// built, then `repodata/` written by `createrepo_c`.
pub fn build_rpm_repo(dir: &Path, packages: &[TestPackage]) -> Result<()> {
    fs::create_dir_all(dir)?;
    for package in packages {
        package.build_rpm(dir)?;
    }
    run(Command::new("createrepo_c").arg("--quiet").arg(dir))
}

/// Copies the tree `local` to `remote` on the VM (as root, through `tar` over SSH).
pub fn push_tree(vm: &Vm, local: &Path, remote: &str) -> Result<()> {
    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(local)
        .args(["-cf", "-", "."])
        .stdout(Stdio::piped())
        .spawn()
        .context("starting tar")?;
    let mut ssh = vm.ssh_command("root", &vm.root_key());
    ssh.arg(format!(
        "mkdir -p '{remote}' && tar -C '{remote}' --no-same-owner -xf -"
    ));
    ssh.stdin(tar.stdout.take().expect("piped"));
    let out = ssh.output().context("running ssh")?;
    let tar_status = tar.wait()?;
    if !out.status.success() || !tar_status.success() {
        bail!(
            "copying {} to the VM's {remote} failed: {}",
            local.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn run(cmd: &mut Command) -> Result<()> {
    output(cmd).map(|_| ())
}

fn output(cmd: &mut Command) -> Result<Vec<u8>> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        let mut msg = Vec::new();
        let _ = write!(msg, "{cmd:?} failed ({}): ", out.status);
        msg.extend_from_slice(&out.stderr);
        bail!("{}", String::from_utf8_lossy(&msg));
    }
    Ok(out.stdout)
}

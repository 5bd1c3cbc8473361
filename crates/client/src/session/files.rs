//! Files: receiving them (saved under `--download-dir`, or skipped), and `/send`.

use super::*;

impl Session {
    pub(super) fn on_file_start(&mut self, h: FileHeader) {
        if let Some(from) = self.auto.remove(&h.id) {
            // The offer line could have been forged with /me: check what actually arrived.
            if h.size > self.cfg.accept_files || !from.eq_ignore_ascii_case(&h.from) {
                self.out.status(&format!(
                    "file #{} from {} ({} bytes) is not what was offered as #{} by {from} \
                     within --accept-files; its bytes are skipped",
                    h.id, h.from, h.size, h.id
                ));
                self.incoming = Some(Incoming::Skip);
                return;
            }
        }
        let me = self.nick.clone().unwrap_or_default();
        let name = downloads::file_name(&me, &h.from, &h.name);
        self.incoming = Some(match Download::create(&self.cfg.download_dir, &name) {
            Ok(d) => Incoming::Save(h, d),
            Err(e) => {
                self.out.status(&format!(
                    "cannot save file #{} from {}: {e}; its bytes are skipped",
                    h.id, h.from
                ));
                Incoming::Skip
            }
        });
    }

    pub(super) fn on_file_data(&mut self, bytes: &[u8]) {
        let Some(Incoming::Save(_, d)) = &mut self.incoming else {
            return;
        };
        if let Err(e) = d.write(bytes) {
            let msg = format!(
                "cannot write {}: {e}; the rest is skipped",
                d.path.display()
            );
            if let Some(Incoming::Save(_, d)) = self.incoming.replace(Incoming::Skip) {
                d.abandon();
            }
            self.out.status(&msg);
        }
    }

    pub(super) fn on_file_end(&mut self) {
        if let Some(Incoming::Save(h, d)) = self.incoming.take() {
            match d.finish() {
                Ok(path) => self.out.status(&format!(
                    "saved #{} {} from {} ({} bytes) as {}",
                    h.id,
                    clean(&h.name),
                    h.from,
                    h.size,
                    path.display()
                )),
                Err(e) => self.out.status(&format!("cannot save file #{}: {e}", h.id)),
            }
        }
    }

    pub(super) fn on_uploaded(&mut self, done: Uploaded) {
        match done.result {
            Ok(took) => self.out.end_progress(&format!(
                "sent {} ({} bytes) in {:.1} s",
                done.name,
                done.size,
                took.as_secs_f64()
            )),
            Err(e) => self
                .out
                .end_progress(&format!("sending {} failed: {e}", done.name)),
        }
    }

    pub(super) fn upload(&mut self, arg: &str) {
        let path = arg
            .strip_prefix('"')
            .and_then(|a| a.strip_suffix('"'))
            .unwrap_or(arg);
        if path.is_empty() {
            self.out.status("usage: /send PATH");
            return;
        }
        let opened = File::open(path).and_then(|f| f.metadata().map(|m| (f, m)));
        let (file, meta) = match opened {
            Ok(ok) => ok,
            Err(e) => {
                self.out.status(&format!("cannot send {path}: {e}"));
                return;
            }
        };
        if !meta.is_file() || meta.len() == 0 {
            self.out.status(&format!(
                "cannot send {path}: not a file with something in it"
            ));
            return;
        }
        let name = PathBuf::from(path)
            .file_name()
            .map(|n| clean(&n.to_string_lossy()).trim().to_string())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "file".into());
        if let Some(conn) = &self.conn {
            conn.send_file(file, name.clone(), meta.len());
            self.out
                .status(&format!("sending {name} ({} bytes)", meta.len()));
        }
    }
}
